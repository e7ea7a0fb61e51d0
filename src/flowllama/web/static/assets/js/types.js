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
 * @typedef {object} BudgetAlert  a threshold a budget crossed this month
 * @property {number} threshold  50, 80 or 100 (percent)
 * @property {string} at
 * @property {string | null} action_taken  "stopped", "blocked" or "warned"
 */

/**
 * @typedef {object} Budget  a monthly spend budget (`BudgetOut`)
 * @property {"user" | "key"} scope
 * @property {string | null} api_key_id
 * @property {string} label
 * @property {number} monthly_usd
 * @property {"stop" | "warn"} action
 * @property {number} spent_usd
 * @property {number} percent
 * @property {BudgetAlert[]} alerts
 */

/**
 * @typedef {object} SpendReport  this month's spend (`SpendOut`)
 * @property {string} month
 * @property {number} spend_usd
 * @property {number} server_usd
 * @property {number} tokens_usd
 * @property {number} projection_usd
 * @property {Budget[]} budgets
 */

/**
 * @typedef {object} ChatChunk  one event of a streamed /v1/chat/completions
 * @property {{delta?: {content?: string}}[]} [choices]
 * @property {{total_tokens: number}} [usage]
 */

/** @typedef {import("./loadtest-types.js").LoadtestRun} LoadtestRun */
/** @typedef {import("./loadtest-types.js").LoadtestRunPage} LoadtestRunPage */
/** @typedef {import("./loadtest-types.js").LoadtestSchedule} LoadtestSchedule */
/** @typedef {import("./loadtest-types.js").LoadtestDashboard} LoadtestDashboard */
/** @typedef {import("./loadtest-types.js").PresignedFile} PresignedFile */
