// Prefect Cloud, recognised by its workspace API path. Cloud has no `GET /admin/version` to rely
// on (Prefect's own client never asks Cloud for it: "Cloud is always compatible as a server") and
// no CSRF endpoint; it always runs the current API.

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
/** `/api/accounts/<uuid>/workspaces/<uuid>` at the end of the API URL's path, on any host (Cloud behind a proxy, a regional host). */
const WORKSPACE_PATH = new RegExp(`/api/accounts/${UUID}/workspaces/${UUID}/?$`, 'i');

/** The version a plan shows for a Cloud workspace (`GET /admin/version` is not asked there). */
export const CLOUD_SERVER_VERSION = 'Prefect Cloud';

/** Whether an API URL's path is a Prefect Cloud workspace's. */
export function isPrefectCloudPath(pathname: string): boolean {
  return WORKSPACE_PATH.test(pathname);
}
