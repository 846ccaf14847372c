// A hostile OpenID provider for Tessera's tests: discovery, JWKS, an authorization endpoint
// that answers at once, and a token endpoint whose ID token is broken as asked by
// GET /test/mode?m=<mode>:
//   ok           a valid ID token (RS256, key "a" of the JWKS)
//   wrong_aud    aud is another client        wrong_nonce  nonce is not the one sent
//   wrong_iss    iss is another issuer        expired      exp in the past
//   wrong_azp    azp is another client        future_iat   iat an hour ahead
//   alg_none     "alg":"none", no signature   unknown_key  signed by key "b", not in the JWKS
//   tampered     a valid token whose payload was changed after signing
//   hs256        "alg":"HS256" keyed with the client secret (a MAC, not a signature)
//   rotate       signed by key "b", which the JWKS has from now on
//   deny         the authorization endpoint answers error=access_denied
// GET /test/next?sub=&email=&email_verified= sets the account. Prints {"port": N}.
import http from 'node:http';
import crypto from 'node:crypto';
import * as jose from 'jose';

const clientId = process.env.HOSTILE_CLIENT_ID || 'hostile-client';
const clientSecret = process.env.HOSTILE_CLIENT_SECRET || 'hostile-secret-0123456789abcdef';
const a = await jose.generateKeyPair('RS256', { extractable: true });
const b = await jose.generateKeyPair('RS256', { extractable: true });
const jwkA = { ...(await jose.exportJWK(a.publicKey)), kid: 'a', alg: 'RS256', use: 'sig' };
const jwkB = { ...(await jose.exportJWK(b.publicKey)), kid: 'b', alg: 'RS256', use: 'sig' };
let mode = 'ok';
let jwksHasB = false;
let next = { sub: 'mallory', email: 'mallory@example.org', email_verified: true };
const codes = new Map();

const b64url = (buf) => Buffer.from(buf).toString('base64url');

async function idToken(issuer, pending) {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: issuer, aud: clientId, sub: pending.account.sub, nonce: pending.nonce,
    iat: now, exp: now + 300,
    email: pending.account.email, email_verified: pending.account.email_verified,
  };
  const sign = (c, key, kid) =>
    new jose.SignJWT(c).setProtectedHeader({ alg: 'RS256', kid }).sign(key);
  switch (mode) {
    case 'wrong_aud': return sign({ ...claims, aud: 'another-client' }, a.privateKey, 'a');
    case 'wrong_nonce': return sign({ ...claims, nonce: 'not-the-nonce' }, a.privateKey, 'a');
    case 'wrong_azp': return sign({ ...claims, azp: 'another-client' }, a.privateKey, 'a');
    case 'future_iat': return sign({ ...claims, iat: now + 3600, exp: now + 7200 }, a.privateKey, 'a');
    case 'wrong_iss': return sign({ ...claims, iss: 'https://evil.example' }, a.privateKey, 'a');
    case 'expired': return sign({ ...claims, iat: now - 7200, exp: now - 3600 }, a.privateKey, 'a');
    case 'unknown_key': return sign(claims, b.privateKey, 'b');
    case 'rotate': jwksHasB = true; return sign(claims, b.privateKey, 'b');
    case 'alg_none':
      return `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}.`;
    case 'hs256':
      return new jose.SignJWT(claims).setProtectedHeader({ alg: 'HS256' })
        .sign(new TextEncoder().encode(clientSecret));
    case 'tampered': {
      const [h, , s] = (await sign(claims, a.privateKey, 'a')).split('.');
      return `${h}.${b64url(JSON.stringify({ ...claims, sub: 'someone-else' }))}.${s}`;
    }
    default: return sign(claims, a.privateKey, 'a');
  }
}

function readBody(req) {
  return new Promise((resolve) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => resolve(new URLSearchParams(body)));
  });
}

const server = http.createServer(async (req, res) => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const url = new URL(req.url, issuer);
  const json = (status, v) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(v));
  };
  switch (url.pathname) {
    case '/.well-known/openid-configuration':
      return json(200, {
        issuer, authorization_endpoint: `${issuer}/authorize`, token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`, response_types_supported: ['code'],
        subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['RS256'],
      });
    case '/jwks':
      return json(200, { keys: jwksHasB ? [jwkA, jwkB] : [jwkA] });
    case '/test/mode':
      mode = url.searchParams.get('m');
      return json(200, { mode });
    case '/test/next':
      next = {
        sub: url.searchParams.get('sub'),
        email: url.searchParams.get('email') || undefined,
        email_verified: url.searchParams.get('email_verified') === 'true',
      };
      return json(200, next);
    case '/authorize': {
      const p = url.searchParams;
      const back = new URL(p.get('redirect_uri'));
      back.searchParams.set('state', p.get('state'));
      if (mode === 'deny') {
        back.searchParams.set('error', 'access_denied');
      } else {
        const code = crypto.randomBytes(16).toString('hex');
        codes.set(code, {
          nonce: p.get('nonce'), challenge: p.get('code_challenge'),
          redirect: p.get('redirect_uri'), account: { ...next },
        });
        back.searchParams.set('code', code);
      }
      res.writeHead(302, { location: back.toString() });
      return res.end();
    }
    case '/token': {
      const p = await readBody(req);
      const pending = codes.get(p.get('code'));
      codes.delete(p.get('code'));
      const verifier = p.get('code_verifier') || '';
      const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
      if (!pending || pending.challenge !== challenge || pending.redirect !== p.get('redirect_uri')) {
        return json(400, { error: 'invalid_grant' });
      }
      return json(200, {
        access_token: crypto.randomBytes(16).toString('hex'), token_type: 'Bearer',
        expires_in: 300, id_token: await idToken(issuer, pending),
      });
    }
    default:
      res.writeHead(404);
      return res.end();
  }
});
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: server.address().port }));
});
