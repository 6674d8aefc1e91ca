import { describe, expect, it } from 'vitest';
import { createHealthHandler } from '../../functions/health.js';

describe('GET /health (functions/health.ts)', () => {
  it('answers 200 {"status":"ok"} when the database answers, and counts nothing', async () => {
    let failures = 0;
    const health = createHealthHandler({ probeDatabase: async () => undefined, failed: () => failures++ });

    const response = await health();

    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ status: 'ok' });
    expect(response.headers).toMatchObject({ 'cache-control': 'no-store' });
    expect(failures).toBe(0);
  });

  it('answers 503 naming the failing component, without the error text, and counts the failure', async () => {
    let failures = 0;
    const health = createHealthHandler({
      probeDatabase: async () => {
        throw new Error('AccessDeniedException: arn:aws:dynamodb:us-east-1:123456789012:table/secret-name');
      },
      failed: () => failures++,
    });

    const response = await health();

    expect(response.statusCode).toBe(503);
    expect(JSON.parse(response.body)).toEqual({ status: 'failing', failing: ['database'] });
    expect(response.body).not.toMatch(/arn:|AccessDenied|123456789012/);
    expect(failures).toBe(1);
  });
});
