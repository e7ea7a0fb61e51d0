// Shapes of the load-test part of the REST API (`docs/loadtest.md`), for the type check
// (tsc --checkJs, web-tools/); nothing here runs. types.js re-exports them.
export {};

/**
 * @typedef {object} LoadtestRun  one load-test run (`LoadtestRunOut`)
 * @property {string} id
 * @property {string} deployment_id
 * @property {string} trigger  "manual" or "schedule"
 * @property {"queued" | "running" | "succeeded" | "failed"} status
 * @property {number} duration_s
 * @property {number} users
 * @property {string | null} target
 * @property {string | null} run_id
 * @property {Record<string, unknown> | null} totals
 * @property {string | null} error
 * @property {string} created_at
 * @property {string | null} started_at
 * @property {string | null} finished_at
 */

/**
 * @typedef {object} LoadtestRunPage
 * @property {LoadtestRun[]} items
 * @property {number} total
 * @property {number} limit
 * @property {number} offset
 */

/**
 * @typedef {object} LoadtestSchedule  a deployment's recurring load test (`ScheduleOut`)
 * @property {string} deployment_id
 * @property {boolean} enabled
 * @property {number} interval_s
 * @property {number} duration_s
 * @property {number} users
 * @property {string | null} next_run_at
 */

/**
 * @typedef {object} LoadtestDashboard  the dashboard rendered by the server (`DashboardFragment`)
 * @property {string} html  escaped text and inline SVG, placed through safe-markup.js
 * @property {number} runs
 */

/** @typedef {{url: string}} PresignedFile  a raw file in an S3 store: where to fetch it */
