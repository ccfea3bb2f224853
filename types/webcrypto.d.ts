/**
 * Node's WebCrypto key types under the global names that jose's declarations and ours use.
 * The server is type-checked without the DOM library (tsconfig.build.json), where @types/node 20
 * names them only as `webcrypto.CryptoKey` and `webcrypto.CryptoKeyPair`; Node has the objects
 * themselves (globalThis.crypto). Where the DOM library is loaded too (tsconfig.json, whose tests
 * drive a browser), these interfaces merge with its identical ones.
 */
interface CryptoKey extends import('node:crypto').webcrypto.CryptoKey {}
interface CryptoKeyPair extends import('node:crypto').webcrypto.CryptoKeyPair {}
