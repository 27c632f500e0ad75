// A real OpenID Connect provider for Klaxon's tests: panva/oidc-provider (OpenID Certified),
// on loopback, with its development sign-in pages (type any login; the password is ignored).
//
//   node provider.js PORT
//
// prints one JSON line {"issuer": ...} once it listens. Besides the standard endpoints
// (discovery, JWKS, authorization, token, userinfo, dynamic client registration at /reg),
// the tests steer it through /__test__/ endpoints:
//
//   POST /__test__/accounts   {"login": "...", "claims": {"email": "...", ...}}: what the
//                             provider says about the person who types that login (default:
//                             sub = login, and email = login when it holds an "@");
//   POST /__test__/misbehave  {"mode": "..."}: the next token response carries an ID token
//                             with a wrong audience ("wrong-audience"), a wrong issuer
//                             ("wrong-issuer"), a signature by a key the provider never
//                             published ("unknown-key"), an expiry an hour ago ("expired"),
//                             or the ID token of the previous sign-in ("replay"). What a
//                             compromised or broken provider, or an attacker in the middle,
//                             would send; Klaxon must refuse each.
//   POST /__test__/reset      forget the accounts and any misbehaviour (between tests).
//
// For trying single sign-on by hand against `make run` (README), one application is
// registered from the start: client ID `klaxon-local`, secret `klaxon-local-secret`, redirect
// URI http://127.0.0.1:8000/sso/callback/ (or localhost). The tests register their own.
import http from 'node:http';

import * as jose from 'jose';
import Provider from 'oidc-provider';

const port = Number(process.argv[2] || process.env.PORT || 0);
if (!port) {
  console.error('usage: node provider.js PORT');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

const KID = 'klaxon-test-signing-key';
const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...(await jose.exportJWK(privateKey)), kid: KID, alg: 'RS256', use: 'sig' };
// Never published: an ID token signed with it must be refused as signed by an unknown key.
const stranger = await jose.generateKeyPair('RS256', { extractable: true });

const accounts = new Map();
let misbehaviour = null;
let previousIdToken = null;

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'klaxon-local',
    client_secret: 'klaxon-local-secret',
    redirect_uris: ['http://127.0.0.1:8000/sso/callback/', 'http://localhost:8000/sso/callback/'],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [signingJwk] },
  cookies: { keys: ['klaxon-test-provider-cookie-key'] },
  features: {
    devInteractions: { enabled: true },
    registration: { enabled: true },
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
  },
  // Entra ID and Okta put email and preferred_username in the ID token itself.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  ttl: { IdToken: 3600, AccessToken: 3600, Interaction: 600, Session: 3600, Grant: 3600, AuthorizationCode: 60 },
  async findAccount(ctx, id) {
    const extra = accounts.get(id) || (id.includes('@') ? { email: id, email_verified: true } : {});
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...extra };
      },
    };
  },
  // The provider's consent screen is not what Klaxon tests: grant what Klaxon asks for.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) {
      return ctx.oidc.provider.Grant.find(grantId);
    }
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
});

async function tampered(idToken, mode) {
  const claims = jose.decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  let key = privateKey;
  let kid = KID;
  if (mode === 'wrong-audience') claims.aud = 'someone-elses-client';
  else if (mode === 'wrong-issuer') claims.iss = 'http://127.0.0.1:1/not-your-provider';
  else if (mode === 'expired') Object.assign(claims, { iat: now - 7200, exp: now - 3600 });
  else if (mode === 'unknown-key') {
    key = stranger.privateKey;
    kid = 'a-key-nobody-published';
  } else throw new Error(`unknown misbehaviour ${mode}`);
  return new jose.SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).sign(key);
}

provider.use(async (ctx, next) => {
  await next();
  if (ctx.path !== '/token' || ctx.status !== 200 || !ctx.body || !ctx.body.id_token) return;
  const fresh = ctx.body.id_token;
  const mode = misbehaviour;
  misbehaviour = null;
  if (mode === 'replay') ctx.body.id_token = previousIdToken;
  else if (mode) ctx.body.id_token = await tampered(fresh, mode);
  previousIdToken = fresh;
});

function readJson(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      try { resolve(JSON.parse(body || '{}')); } catch (error) { reject(error); }
    });
  });
}

const handle = provider.callback();
const server = http.createServer(async (req, res) => {
  if (!req.url.startsWith('/__test__/')) return handle(req, res);
  try {
    const body = await readJson(req);
    if (req.url === '/__test__/accounts') accounts.set(body.login, body.claims || {});
    else if (req.url === '/__test__/misbehave') misbehaviour = body.mode || null;
    else if (req.url === '/__test__/reset') {
      accounts.clear();
      misbehaviour = null;
    }
    else {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(204).end();
  } catch (error) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end(String(error));
  }
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
