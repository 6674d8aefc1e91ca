import { describe, expect, it } from 'vitest';
import { cachedProbe, componentHealth, createHealthHandler } from '../../functions/health.js';

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

describe('the broker probe behind /health and the dashboard (cachedProbe)', () => {
  /** A probe that counts its calls, answering as told; and a clock the test moves. */
  const setup = (ttlMs = 5_000) => {
    const counter = { calls: 0, fail: false, now: 0 };
    const probe = cachedProbe(
      async () => {
        counter.calls += 1;
        if (counter.fail) throw new BrokerDown();
      },
      ttlMs,
      () => counter.now,
    );
    return { counter, probe };
  };
  class BrokerDown extends Error {
    override readonly name = 'BrokerDown';
  }

  it('asks the broker once for any number of calls within the window, concurrent or not', async () => {
    const { counter, probe } = setup();

    await Promise.all([probe(), probe(), probe()]);
    counter.now += 4_999;
    await probe();

    expect(counter.calls).toBe(1);
  });

  it('asks again once the window has passed since the last answer', async () => {
    const { counter, probe } = setup();
    await probe();

    counter.now += 5_000;
    await probe();

    expect(counter.calls).toBe(2);
  });

  it('reuses a failure for the window too: a broker that is down is not asked on every call', async () => {
    const { counter, probe } = setup();
    counter.fail = true;

    await expect(probe()).rejects.toBeInstanceOf(BrokerDown);
    counter.fail = false;
    await expect(probe()).rejects.toBeInstanceOf(BrokerDown);
    counter.now += 5_000;
    await expect(probe()).resolves.toBeUndefined();

    expect(counter.calls).toBe(2);
  });

  it('asks every time with a window of 0', async () => {
    const { counter, probe } = setup(0);

    await probe();
    await probe();

    expect(counter.calls).toBe(2);
  });

  it('reports each component ok or failing by error name only', async () => {
    const health = await componentHealth({
      database: async () => undefined,
      broker: async () => {
        throw new BrokerDown('key PKSECRET refused');
      },
    });

    expect(health).toEqual({ ok: false, components: { database: 'ok', broker: 'failing: BrokerDown' } });
  });
});
