import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env, '/srv/app');
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected ${JSON.stringify(env)} to be rejected`);
}

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    assert.deepEqual(loadConfig({}, '/srv/app'), {
      host: '127.0.0.1',
      port: 3000,
      logLevel: 'info',
      databaseUrl: null,
      databasePoolSize: 10,
      databaseStatementTimeoutMs: 10_000,
      databaseCheckoutTimeoutMs: 5_000,
      dataDir: path.resolve('/srv/app', 'data'),
      adminToken: null,
      bodyLimitBytes: 10 * 1024 * 1024,
      rateLimitPerMinute: 600,
      oneStatementWrites: true,
      databasePoolMode: 'session',
      databaseDirectUrl: null,
      redisUrl: null,
      webConcurrency: 1,
      metricsToken: null,
      eventRetentionDays: 30,
      webhookAllowPrivateNetworks: false,
      webhookDelivery: true,
    });
  });

  it('reads every variable', () => {
    const config = loadConfig(
      {
        PORT: '8080',
        HOST: '0.0.0.0',
        LOG_LEVEL: 'warn',
        DATABASE_URL: 'postgres://app:secret@db.internal:5432/contacts',
        DATABASE_POOL_SIZE: '25',
        DATABASE_STATEMENT_TIMEOUT: '2500',
        DATABASE_CHECKOUT_TIMEOUT: '750',
        DATA_DIR: 'var/db',
        ADMIN_TOKEN: 'a-long-enough-admin-secret',
        BODY_LIMIT: '2048',
        RATE_LIMIT_PER_MINUTE: '60',
        ONE_STATEMENT_WRITES: 'FALSE',
        DATABASE_POOL_MODE: 'Transaction',
        DATABASE_DIRECT_URL: 'postgresql://app:secret@db.internal:5432/contacts',
        REDIS_URL: 'redis://cache.internal:6379/2',
        EVENT_RETENTION_DAYS: '7',
        WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
        WEBHOOK_DELIVERY: 'false',
        WEB_CONCURRENCY: '4',
        METRICS_TOKEN: 'a-long-enough-metrics-secret',
      },
      '/srv/app',
    );
    assert.deepEqual(config, {
      host: '0.0.0.0',
      port: 8080,
      logLevel: 'warn',
      databaseUrl: 'postgres://app:secret@db.internal:5432/contacts',
      databasePoolSize: 25,
      databaseStatementTimeoutMs: 2_500,
      databaseCheckoutTimeoutMs: 750,
      dataDir: '/srv/app/var/db',
      adminToken: 'a-long-enough-admin-secret',
      bodyLimitBytes: 2048,
      rateLimitPerMinute: 60,
      oneStatementWrites: false,
      databasePoolMode: 'transaction',
      databaseDirectUrl: 'postgresql://app:secret@db.internal:5432/contacts',
      redisUrl: 'redis://cache.internal:6379/2',
      webConcurrency: 4,
      metricsToken: 'a-long-enough-metrics-secret',
      eventRetentionDays: 7,
      webhookAllowPrivateNetworks: true,
      webhookDelivery: false,
    });
  });

  it('returns a frozen object', () => {
    const config = loadConfig({}, '/srv/app');
    assert.ok(Object.isFrozen(config));
    assert.throws(() => {
      (config as { port: number }).port = 1;
    }, TypeError);
  });

  it('treats empty and blank values as unset', () => {
    const config = loadConfig({ PORT: '', ADMIN_TOKEN: '   ', DATABASE_URL: '' }, '/srv/app');
    assert.equal(config.port, 3000);
    assert.equal(config.adminToken, null);
    assert.equal(config.databaseUrl, null);
  });

  it('keeps an absolute DATA_DIR as given', () => {
    assert.equal(loadConfig({ DATA_DIR: '/var/lib/contacts' }, '/srv/app').dataDir, '/var/lib/contacts');
  });

  it('accepts postgresql:// as well as postgres:// URLs', () => {
    const url = 'postgresql://app@localhost/contacts';
    assert.equal(loadConfig({ DATABASE_URL: url }, '/srv/app').databaseUrl, url);
  });

  it('accepts LOG_LEVEL in any case', () => {
    assert.equal(loadConfig({ LOG_LEVEL: 'DEBUG' }, '/srv/app').logLevel, 'debug');
  });

  it('lets RATE_LIMIT_PER_MINUTE=0 disable rate limiting', () => {
    assert.equal(loadConfig({ RATE_LIMIT_PER_MINUTE: '0' }, '/srv/app').rateLimitPerMinute, 0);
  });

  const rejected: Array<[string, Record<string, string>]> = [
    ['PORT', { PORT: 'abc' }],
    ['PORT', { PORT: '65536' }],
    ['PORT', { PORT: '-1' }],
    ['PORT', { PORT: '80.5' }],
    ['HOST', { HOST: 'bad host name' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'verbose' }],
    ['DATABASE_URL', { DATABASE_URL: 'not a url' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://root@localhost/contacts' }],
    ['DATABASE_POOL_SIZE', { DATABASE_POOL_SIZE: '0' }],
    ['DATABASE_POOL_SIZE', { DATABASE_POOL_SIZE: 'ten' }],
    ['DATABASE_STATEMENT_TIMEOUT', { DATABASE_STATEMENT_TIMEOUT: '10s' }],
    ['DATABASE_STATEMENT_TIMEOUT', { DATABASE_STATEMENT_TIMEOUT: '0' }],
    ['DATABASE_CHECKOUT_TIMEOUT', { DATABASE_CHECKOUT_TIMEOUT: '-1' }],
    ['ONE_STATEMENT_WRITES', { ONE_STATEMENT_WRITES: 'yes' }],
    ['ADMIN_TOKEN', { ADMIN_TOKEN: 'short' }],
    ['BODY_LIMIT', { BODY_LIMIT: '10mb' }],
    ['BODY_LIMIT', { BODY_LIMIT: '0' }],
    ['RATE_LIMIT_PER_MINUTE', { RATE_LIMIT_PER_MINUTE: '-5' }],
    ['RATE_LIMIT_PER_MINUTE', { RATE_LIMIT_PER_MINUTE: 'unlimited' }],
    ['DATABASE_POOL_MODE', { DATABASE_POOL_MODE: 'statement' }],
    ['DATABASE_DIRECT_URL', { DATABASE_DIRECT_URL: 'http://db.internal:5432/contacts' }],
    ['REDIS_URL', { REDIS_URL: 'localhost:6379' }],
    ['REDIS_URL', { REDIS_URL: 'memcached://cache:11211' }],
    ['WEB_CONCURRENCY', { WEB_CONCURRENCY: '0' }],
    ['WEB_CONCURRENCY', { WEB_CONCURRENCY: 'auto' }],
    ['METRICS_TOKEN', { METRICS_TOKEN: 'short' }],
  ];
  for (const [variable, env] of rejected) {
    it(`rejects ${JSON.stringify(env)} with a one-line message naming ${variable}`, () => {
      const error = configError(env);
      assert.equal(error.variable, variable);
      assert.match(error.message, new RegExp(`^${variable}: `));
      assert.doesNotMatch(error.message, /\n/);
    });
  }

  it('keeps the message on one line when the value holds a line break', () => {
    const error = configError({ PORT: '30\n00' });
    assert.equal(error.variable, 'PORT');
    assert.doesNotMatch(error.message, /[\r\n]/);
  });

  it('never repeats the password of a rejected DATABASE_URL', () => {
    const error = configError({ DATABASE_URL: 'mysql://root:hunter2-secret@localhost/contacts' });
    assert.doesNotMatch(error.message, /hunter2-secret/);
  });
});
