// Shapes of what the REST API answers, for the type check (tsc --checkJs, web-tools/); nothing
// here runs. Only the fields the UI reads are listed.
export {};

/**
 * @typedef {object} Deployment
 * @property {string} id
 * @property {string} name
 * @property {string} status
 * @property {string | null} [status_message]
 * @property {string} desired_state
 * @property {string} model
 * @property {string} runtime
 * @property {number} context_size
 * @property {string} spot_tolerance
 * @property {string} gpu
 * @property {string} cloud
 * @property {string | null} region
 * @property {string | null} instance_type
 * @property {string | null} endpoint_url
 * @property {number | null} price_per_hour
 * @property {number | null} cost_so_far_usd
 * @property {string} created_at
 * @property {Instance[]} instances
 * @property {number} [parallel]
 * @property {Placement | null} [placement]  where it runs now (its live instance)
 * @property {number} [generation]  bumped by every change that needs new servers
 * @property {Replicas} [replicas]
 * @property {number | null} [idle_timeout_s]  null: never sleeps
 * @property {boolean} [auto_move]  the advisor moves it to a cheaper placement itself
 * @property {number} [wake_count]
 * @property {number} [asleep_hours]  in total, the current sleep included
 * @property {number} [saved_usd]  asleep hours at the $/h it ran at before sleeping
 * @property {string | null} [rollout_error]  the last change that failed (old servers serve)
 * @property {Recommendation | null} [recommendation]  the open one
 */

/** @typedef {import("./autopilot-types.js").Replicas} Replicas */
/** @typedef {import("./autopilot-types.js").Placement} Placement */
/** @typedef {import("./autopilot-types.js").Recommendation} Recommendation */

/**
 * @typedef {object} Instance
 * @property {string} id
 * @property {string} status
 * @property {string | null} last_error
 * @property {string | null} provider
 * @property {string | null} cloud
 * @property {string | null} region
 * @property {string | null} zone
 * @property {string | null} instance_type
 * @property {boolean} spot
 * @property {number | null} price_per_hour
 * @property {string | null} last_check_at
 * @property {string | null} endpoint_url
 * @property {string} [slot]  "" for the first server; replicas and replacements: s1, s2, …
 * @property {number} [generation]  the deployment generation it was built for
 * @property {string | null} [draining_since]  no longer routed; destroyed once drained
 */

/**
 * @typedef {object} DeploymentEvent
 * @property {string | null} from_status
 * @property {string} to_status
 * @property {string} at
 * @property {string} reason
 * @property {Record<string, unknown> | null} [data]
 */

/**
 * @typedef {object} ApiKey
 * @property {string} id
 * @property {string} name
 * @property {string} prefix
 * @property {number | null} rpm
 * @property {number | null} tpm
 * @property {number | null} monthly_token_budget
 * @property {string[] | null} models
 * @property {string} created_at
 * @property {string | null} last_used_at
 * @property {string | null} expires_at
 */

/** @typedef {ApiKey & {key: string}} CreatedKey  the key itself, shown once */

/**
 * @typedef {object} CatalogModel
 * @property {string} name
 * @property {string} family
 * @property {string} parameters
 * @property {number} size_bytes
 * @property {number} context_length
 * @property {string} typical_use
 */

/**
 * @typedef {object} Offer
 * @property {string} cloud
 * @property {string} region
 * @property {string} instance_type
 * @property {string | null} gpu
 * @property {number} gpu_count
 * @property {number} gpu_memory_gib
 * @property {number} vcpus
 * @property {number} memory_gib
 * @property {boolean} spot
 * @property {number} price_per_hour
 * @property {number} price_per_month
 * @property {string} rationale
 * @property {{compute: number, disk: number, disk_gb: number, egress: number, egress_gb: number}} [breakdown]
 */

/**
 * @typedef {object} Requirements
 * @property {number} total_bytes
 * @property {{weights_bytes: number, kv_cache_bytes: number, graph_bytes: number, overhead_bytes: number}} [breakdown]
 */

/**
 * @typedef {object} Estimate
 * @property {string} model
 * @property {number} context_size
 * @property {Offer | null} recommended
 * @property {Record<string, Offer | null>} by_cloud
 * @property {{region: string}[]} candidates
 * @property {Requirements | null} requirements
 * @property {string | null} reason
 * @property {string} source
 * @property {string} as_of
 */

/**
 * @typedef {object} UsageGroup
 * @property {string} group
 * @property {string} label
 * @property {number} requests
 * @property {number} prompt_tokens
 * @property {number} completion_tokens
 * @property {number} total_tokens
 * @property {number} cost_usd
 * @property {number | null} usd_per_million_tokens
 */

/**
 * @typedef {object} UsageReport
 * @property {UsageGroup[]} items
 * @property {{requests: number, total_tokens: number, cost_usd: number}} total
 */

/**
 * @typedef {object} ChatChunk  one event of a streamed /v1/chat/completions
 * @property {{delta?: {content?: string}}[]} [choices]
 * @property {{total_tokens: number}} [usage]
 */

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
