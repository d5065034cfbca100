// A fake Microsoft Entra login endpoint: the OpenID configuration MSAL reads and a token endpoint
// for client credentials (secret or federated assertion). Tokens it issues are the only ones ARM
// routes accept. Secrets and assertions are checked, never stored or recorded.
import { randomBytes } from "node:crypto";
import { json, type Ctx, type Reply } from "./http.ts";
import type { EmulatorState } from "./state.ts";

export function openidConfiguration(ctx: Ctx): Reply {
  const t = `${ctx.base}/${ctx.params.tenant}`;
  return json(200, {
    token_endpoint: `${t}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
    jwks_uri: `${t}/discovery/v2.0/keys`,
    response_modes_supported: ["query", "fragment", "form_post"],
    subject_types_supported: ["pairwise"],
    id_token_signing_alg_values_supported: ["RS256"],
    response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
    scopes_supported: ["openid", "profile", "email", "offline_access"],
    issuer: `${t}/v2.0`,
    authorization_endpoint: `${t}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${t}/oauth2/v2.0/devicecode`,
    end_session_endpoint: `${t}/oauth2/v2.0/logout`,
    tenant_region_scope: "NA",
    cloud_instance_name: "microsoftonline.com",
  });
}

function refuse(code: string, description: string): Reply {
  return json(401, { error: code, error_description: description, error_codes: [7000215] });
}

export function token(ctx: Ctx, state: EmulatorState): Reply {
  const form = new URLSearchParams(typeof ctx.body === "string" ? ctx.body : "");
  const { tenantId, clientId, clientSecret } = state.options;
  if (ctx.params.tenant !== tenantId) {
    return json(400, {
      error: "invalid_request",
      error_description: `AADSTS90002: Tenant '${ctx.params.tenant}' not found.`,
    });
  }
  if (form.get("client_id") !== clientId) {
    return refuse("unauthorized_client", "AADSTS700016: Application not found in the directory.");
  }
  const secret = form.get("client_secret");
  const assertion = form.get("client_assertion");
  if (secret === null && !assertion)
    return refuse("invalid_client", "AADSTS7000216: client_assertion or client_secret is required.");
  if (secret !== null && secret !== clientSecret) {
    return refuse("invalid_client", "AADSTS7000215: Invalid client secret provided.");
  }
  const kind = secret !== null ? "client_secret" : "client_assertion";
  state.grants[kind] = (state.grants[kind] ?? 0) + 1;
  const accessToken = randomBytes(24).toString("base64url");
  state.tokens.add(accessToken);
  return json(200, {
    token_type: "Bearer",
    expires_in: 3599,
    ext_expires_in: 3599,
    access_token: accessToken,
  });
}
