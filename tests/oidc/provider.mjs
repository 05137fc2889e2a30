// A real OpenID Connect provider (panva's certified oidc-provider) for Vigil's OIDC login tests.
//
// Usage: node provider.mjs CERT.pem KEY.pem
// Environment: CLIENT_ID, CLIENT_SECRET, ID_TOKEN_ALG (RS256 or ES256), ACCOUNT_NAME, ACCOUNT_GROUPS (comma list).
// Listens on https://127.0.0.1:<port>, prints "port <port>", then reads the client's redirect URI
// from one line of standard input, and prints "ready" once it serves OpenID Connect there.
// One client (authorisation code, PKCE required), one account; login and consent are given at
// once by the interaction route (no forms), so a test drives the flow with plain HTTP requests.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { createInterface } from 'node:readline';
import Provider from 'oidc-provider';

const [cert, key] = process.argv.slice(2);
const env = (name) => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`set ${name}`);
  return value;
};
const alg = env('ID_TOKEN_ALG');
const account = { sub: 'user-1', preferred_username: env('ACCOUNT_NAME'), groups: env('ACCOUNT_GROUPS').split(',') };

let handler = (req, res) => { res.statusCode = 503; res.end('not ready'); };
const server = createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (req, res) => handler(req, res));
server.listen(0, '127.0.0.1', () => console.log(`port ${server.address().port}`));

const lines = createInterface({ input: process.stdin });
lines.once('line', (redirectUri) => {
  const issuer = `https://127.0.0.1:${server.address().port}`;
  const signing = alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...signing.privateKey.export({ format: 'jwk' }), kid: `test-${alg}`, alg, use: 'sig' };
  const provider = new Provider(issuer, {
    clients: [{
      client_id: env('CLIENT_ID'),
      client_secret: env('CLIENT_SECRET'),
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: alg,
    }],
    jwks: { keys: [jwk] },
    enabledJWA: { idTokenSigningAlgValues: ['RS256', 'ES256'] },
    pkce: { required: () => true },
    claims: { openid: ['sub'], profile: ['preferred_username', 'groups'] },
    conformIdTokenClaims: false,
    cookies: { keys: [randomBytes(32).toString('hex')] },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: (ctx, sub) => sub === account.sub
      ? { accountId: sub, claims: () => account }
      : undefined,
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  const oidc = provider.callback();
  handler = async (req, res) => {
    const match = /^\/interaction\/([^/?]+)/.exec(req.url);
    if (!match) return oidc(req, res);
    try {
      const details = await provider.interactionDetails(req, res);
      let result;
      if (details.prompt.name === 'login') {
        result = { login: { accountId: account.sub } };
      } else {
        const grant = new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
        const missing = details.prompt.details;
        if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
        if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
        result = { consent: { grantId: await grant.save() } };
      }
      await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
    } catch (err) {
      console.error('interaction failed', err);
      res.statusCode = 500;
      res.end(String(err));
    }
  };
  console.log('ready');
});
