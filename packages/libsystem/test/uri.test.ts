import test from 'ava';
import fc from 'fast-check';
import { checkURI, parseURI, urlEncode } from '../src/uri/uri';

test('parseURI splits scheme, user, host, port, path, query and fragment', (t) => {
  t.deepEqual(parseURI('http://user@example.test:8080/a/b?x=1&y=2#frag'), {
    scheme: 'http',
    user: 'user',
    host: 'example.test',
    port: 8080,
    path: '/a/b',
    query: 'x=1&y=2',
    fragment: 'frag',
  });
  t.deepEqual(parseURI('http://example.test'), { scheme: 'http', host: 'example.test' });
  t.deepEqual(parseURI('http://example.test/'), { scheme: 'http', host: 'example.test', path: '/' });
  t.deepEqual(parseURI('tcp://echo.test:7'), { scheme: 'tcp', host: 'echo.test', port: 7 });
  t.deepEqual(parseURI('mailto:someone@example.test'), { scheme: 'mailto', path: 'someone@example.test' });
  t.deepEqual(parseURI('http://h?q#f'), { scheme: 'http', host: 'h', query: 'q', fragment: 'f' });
  t.deepEqual(parseURI('urn:'), { scheme: 'urn', path: '' });
  t.deepEqual(parseURI('HTTP://H/'), { scheme: 'http', host: 'H', path: '/' });
  t.deepEqual(parseURI('psp+x.y-z://h:0/'), { scheme: 'psp+x.y-z', host: 'h', port: 0, path: '/' });
  t.deepEqual(parseURI('http://h/%41b?%20'), { scheme: 'http', host: 'h', path: '/%41b', query: '%20' });
});

test('parseURI throws "Invalid URI" on characters out of place', (t) => {
  for (const bad of [
    'http://exa mple.test/',
    'http://h:80x/',
    '1http://h/',
    '://h/',
    'example.test',
    '',
    'http://h/<script>',
    'http://h/a b',
    'http://h/%zz',
    'http://h:99999/',
    'http://h/?q#f#g',
    'http://[::1]/',
  ]) {
    t.throws(() => parseURI(bad), { message: 'Invalid URI' }, bad);
  }
});

test('parseURI and checkURI check their argument with Phoenix texts', (t) => {
  t.throws(() => parseURI(5 as never), { message: "bad argument #1 to 'parseURI' (expected string, got number)" });
  t.throws(() => checkURI(undefined as never), { message: "bad argument #1 to 'checkURI' (expected string, got nil)" });
});

test('checkURI says whether a URI parses (Phoenix left it a stub)', (t) => {
  t.true(checkURI('http://example.test/get?x=1'));
  t.true(checkURI('udp://echo.test:7'));
  t.false(checkURI('http://exa mple/'));
  t.false(checkURI('no-colon'));
});

test('urlEncode follows Phoenix: keep [A-Za-z0-9 -_.], newline to CRLF, %XX of UTF-8, space to +', (t) => {
  t.is(urlEncode('Hello World'), 'Hello+World');
  t.is(urlEncode('a-b_c.d~e'), 'a-b_c.d%7Ee');
  t.is(urlEncode('a\nb'), 'a%0D%0Ab');
  t.is(urlEncode('x=1&y=2'), 'x%3D1%26y%3D2');
  t.is(urlEncode('é'), '%C3%A9');
  t.is(urlEncode('€'), '%E2%82%AC');
  t.is(urlEncode('/?#+'), '%2F%3F%23%2B');
  t.is(urlEncode(''), '');
  t.throws(() => urlEncode(1 as never), { message: "bad argument #1 to 'urlEncode' (expected string, got number)" });
});

test('urlEncode output is form-decodable back to the input (with CRLF line ends)', (t) => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme' }), (s) => {
      const enc = urlEncode(s);
      t.regex(enc, /^[A-Za-z0-9\-_.+%]*$/);
      return decodeURIComponent(enc.replace(/\+/g, ' ')) === s.replace(/\n/g, '\r\n');
    }),
  );
  t.pass();
});
