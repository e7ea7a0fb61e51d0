// Where the UI finds the REST API and the token API. Empty: the origin that served this page
// (flowllama up). `flowllama web export DIR --api-url URL` rewrites this file.
export const config = { apiUrl: "", gatewayUrl: "" };
