// Shapes of the cost autopilot's part of the REST API (`docs/autopilot.md`), for the type check
// (tsc --checkJs, web-tools/); nothing here runs. types.js re-exports them.
export {};

/**
 * @typedef {object} Replicas
 * @property {number} min
 * @property {number} max
 * @property {number} desired
 * @property {number} running
 */

/**
 * @typedef {object} Placement
 * @property {string | null} cloud
 * @property {string | null} region
 * @property {string | null} [zone]
 * @property {string | null} instance_type
 * @property {boolean} [spot]
 * @property {number | null} [price_per_hour]
 */

/**
 * @typedef {object} Recommendation  a cheaper placement the advisor found (`RecommendationOut`)
 * @property {string} id
 * @property {"open" | "accepted" | "dismissed" | "superseded"} status
 * @property {Placement} placement
 * @property {number} current_price_per_hour
 * @property {number} new_price_per_hour
 * @property {number} monthly_saving_usd
 * @property {number} saving_percent
 * @property {string} created_at
 * @property {string | null} decided_at
 */
