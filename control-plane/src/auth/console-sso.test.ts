import { consoleCsp } from '../http/console.ts';
import { consoleSsoProvider, type KeycloakSettings } from './keycloak.ts';

// What the console is told about the realm, and the one extra origin its CSP lets it fetch.

const keycloak: KeycloakSettings = {
  issuer: 'https://sso.example.com/realms/acme/',
  audience: 'muxly-api',
  algorithms: ['RS256'],
  roleSource: 'realm',
  roleMapping: {},
};

test('no console client, no SSO offered: the API audience client alone is not one a browser may use', () => {
  expect(consoleSsoProvider(undefined)).toBeNull();
  expect(consoleSsoProvider(keycloak)).toBeNull();
});

test("the realm's endpoints derive from the issuer the tokens name", () => {
  expect(consoleSsoProvider({ ...keycloak, consoleClientId: 'muxly-console' })).toEqual({
    type: 'keycloak',
    issuer: 'https://sso.example.com/realms/acme',
    clientId: 'muxly-console',
    authorizationEndpoint: 'https://sso.example.com/realms/acme/protocol/openid-connect/auth',
    tokenEndpoint: 'https://sso.example.com/realms/acme/protocol/openid-connect/token',
    endSessionEndpoint: 'https://sso.example.com/realms/acme/protocol/openid-connect/logout',
  });
});

test("the console's CSP adds only the origins it is given to connect-src", () => {
  expect(consoleCsp()).toContain("connect-src 'self';");
  const csp = consoleCsp(['https://sso.example.com']);
  expect(csp).toContain("connect-src 'self' https://sso.example.com;");
  expect(csp).toContain("script-src 'self';");
  expect(csp).not.toContain('*');
});
