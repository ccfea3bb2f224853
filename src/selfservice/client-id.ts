/** The IdP's own relying app for /account (a public client with PKCE, registered in code). */
export const ACCOUNT_CLIENT_ID = 'account-console';
