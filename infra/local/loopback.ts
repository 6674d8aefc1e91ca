import { isIP } from 'node:net';

/** The address the local bot listens on unless HOST says otherwise. */
export const LOOPBACK = '127.0.0.1';

/**
 * True for a host only this machine can reach: `localhost`, 127.0.0.0/8 or ::1 (with or without
 * the brackets a URL puts around IPv6). Anything else, wildcards like 0.0.0.0 included, is the network.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return isIP(bare) === 6 && bare === '::1';
}
