// A real, standards-compliant OpenID provider (oidc-provider) for Tessera's tests.
//
// Listens on a free loopback port and prints {"port": N} on its first line. Clients come from
// the OIDC_CLIENTS environment variable (JSON array of oidc-provider client metadata). A
// client with "generate_key_to": PATH authenticates with private_key_jwt: a P-256 key pair is
// made, its private key written to PATH (PKCS#8 PEM) and its public key registered (kid
// "tessera-1").
// Interactions finish on their own: the login is the account set by
// GET /test/next?sub=&email=&email_verified= (default alice), and consent grants what was
// asked. Nothing else is changed from the library's defaults but conformIdTokenClaims (the ID
// token carries the email claims), so discovery, JWKS, PKCE, the token endpoint and the
// userinfo endpoint are oidc-provider's own.
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import Provider from 'oidc-provider';

const clients = JSON.parse(process.env.OIDC_CLIENTS || '[]').map((c) => {
  if (!c.generate_key_to) return c;
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  fs.writeFileSync(c.generate_key_to, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const { generate_key_to: _, ...client } = c;
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'tessera-1', alg: 'ES256', use: 'sig' };
  return { ...client, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] } };
});
const accounts = new Map();
let next = { sub: 'alice', email: 'alice@example.org', email_verified: true };

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients,
    conformIdTokenClaims: false,
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: ['tessera-tests-only'] },
    findAccount: async (ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub, ...(accounts.get(sub) || {}) }),
    }),
  });
  const callback = provider.callback();
  server.on('request', async (req, res) => {
    const url = new URL(req.url, issuer);
    if (url.pathname === '/test/next') {
      next = {
        sub: url.searchParams.get('sub'),
        email: url.searchParams.get('email') || undefined,
        email_verified: url.searchParams.get('email_verified') === 'true',
      };
      res.end('ok');
      return;
    }
    if (url.pathname.startsWith('/interaction/')) {
      try {
        const details = await provider.interactionDetails(req, res);
        if (details.prompt.name === 'login') {
          accounts.set(next.sub, { email: next.email, email_verified: next.email_verified });
          await provider.interactionFinished(req, res, { login: { accountId: next.sub } }, { mergeWithLastSubmission: false });
        } else {
          const grant = details.grantId
            ? await provider.Grant.find(details.grantId)
            : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
          grant.addOIDCScope(details.params.scope);
          const grantId = await grant.save();
          await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
        }
      } catch (e) {
        res.statusCode = 500;
        res.end(String(e));
      }
      return;
    }
    callback(req, res);
  });
  console.log(JSON.stringify({ port }));
});
