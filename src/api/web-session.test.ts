import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cookieValue, SESSION_IDLE_MS, secretMatches, sessionCookie, WebSessions } from './web-session.js';

test('a session lives while used and ends after 12 idle hours or on sign-out', () => {
  let now = 1_000_000;
  const sessions = new WebSessions(() => now);
  const id = sessions.open();
  assert.match(id, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(sessions.open(), id, 'every sign-in gets its own id');
  now += SESSION_IDLE_MS - 1;
  assert.equal(sessions.check(id), true, 'used just in time: kept alive');
  now += SESSION_IDLE_MS - 1;
  assert.equal(sessions.check(id), true);
  now += SESSION_IDLE_MS + 1;
  assert.equal(sessions.check(id), false, 'idle too long');
  const other = sessions.open();
  sessions.close(other);
  assert.equal(sessions.check(other), false, 'signed out');
  assert.equal(sessions.check(undefined), false);
  assert.equal(sessions.check('made-up'), false);
});

test('cookies are read by exact name, and the session cookie is HttpOnly and SameSite=Strict', () => {
  assert.equal(cookieValue('a=1; strata_session=xyz; b=2', 'strata_session'), 'xyz');
  assert.equal(cookieValue('not_strata_session=xyz', 'strata_session'), undefined);
  assert.equal(cookieValue(undefined, 'strata_session'), undefined);
  assert.equal(sessionCookie('abc', 60), 'strata_session=abc; HttpOnly; SameSite=Strict; Path=/; Max-Age=60');
  assert.equal(secretMatches('abc', 'abc'), true);
  assert.equal(secretMatches('abd', 'abc'), false);
  assert.equal(secretMatches('abcd', 'abc'), false);
});
