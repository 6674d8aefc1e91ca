/**
 * Live updates, locally and in AWS alike: open pages subscribe to one channel of an AppSync
 * Events API (in AWS) or of the local bot's own endpoint speaking the same protocol
 * (infra/local/realtime.ts). A message there only says that something changed — never what:
 * the page then reads the status through the API with its session cookie, so nothing a page
 * shows ever travels on the channel. Browser and server code alike: constants and types only.
 */

/** The channel namespace (AppSync: the API's one namespace). */
export const LIVE_NAMESPACE = 'pinebridge';

/** The one channel every page subscribes to. */
export const LIVE_CHANNEL = `/${LIVE_NAMESPACE}/updates`;

/** Where AppSync Events' realtime endpoint listens, and so where the local bot's does. */
export const REALTIME_PATH = '/event/realtime';

/** The WebSocket subprotocol of AppSync Events; the other one offered carries the auth header. */
export const EVENTS_SUBPROTOCOL = 'aws-appsync-event-ws';

/** What is published: what kind of thing changed, and when. */
export interface LiveHint {
  /** `signal`, `notice`, `trading-state`, `operator`, `execution`… (shown nowhere; for logs and tests). */
  kind: string;
  at: string;
}

/** Where and how a page subscribes (the `live` of GET /api/session, its token added per session). */
export interface LiveEndpoint {
  /** The realtime WebSocket URL: `wss://<realtime domain>/event/realtime`, or the local bot's. */
  url: string;
  /** The API's HTTP domain, which AppSync wants in the auth header as `host`. */
  host: string;
  channel: string;
}
