/**
 * RFC 6749 4.1.2.1 and 4.2.2.1: a response type the client is not registered for is
 * `unauthorized_client`. oidc-provider answers it at the authorization endpoint as `invalid_request`
 * ("requested response_type is not allowed for this client"), by redirect (query or fragment) or by
 * form post; these pure functions rename the code in whichever the answer is (red-team: relying-party
 * libraries read the code; /token and /backchannel say unauthorized_client already, provider.ts).
 */
const DESCRIPTION = 'requested response_type is not allowed for this client';

/** The Location with the code renamed, or null when it is not that answer. */
export function renamedInLocation(location: string): string | null {
  let url: URL;
  try { url = new URL(location); } catch { return null; }
  for (const part of ['search', 'hash'] as const) {
    const params = new URLSearchParams(url[part].slice(1));
    if (params.get('error') === 'invalid_request' && params.get('error_description') === DESCRIPTION) {
      params.set('error', 'unauthorized_client');
      url[part] = params.toString();
      return url.href;
    }
  }
  return null;
}

/** The form_post page with the code renamed, or null when it is not that answer. */
export function renamedInFormPost(html: string): string | null {
  const error = '<input type="hidden" name="error" value="invalid_request"/>';
  if (!html.includes(error) || !html.includes(`<input type="hidden" name="error_description" value="${DESCRIPTION}"/>`)) return null;
  return html.replace(error, '<input type="hidden" name="error" value="unauthorized_client"/>');
}
