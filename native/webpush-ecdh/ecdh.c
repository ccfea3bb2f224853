/*
 * The ECDH of a Web Push message (RFC 8291 3.1): a fresh P-256 key pair and its shared secret with
 * the user agent's public key, in one call, on the OpenSSL that Node itself carries (its exported
 * symbols; nothing else is linked).
 *
 * Why: node:crypto checks the whole key pair on every ECDH (`ecdh.computeSecret` runs
 * EC_KEY_check_key on its own key: a scalar multiplication by the group order and one by the
 * generator) or the whole peer key (`crypto.diffieHellman`: EVP_PKEY_derive_set_peer validates it
 * with a multiplication by the order). For P-256, whose cofactor is 1, a point on the curve is in
 * the group, and EC_POINT_oct2point already refuses a point off the curve; the extra
 * multiplications double the cost of the one that matters. Measured on one machine: 93 us for
 * node:crypto's generateKeys + computeSecret, 52 us here.
 *
 * derive(peer: Buffer(65) [, privateKey: Buffer(32)]) -> Buffer(97): the new public key,
 * uncompressed (65 bytes), then the shared secret's x coordinate (32 bytes). `privateKey` replaces
 * the fresh key, for known-answer tests (RFC 8291 Appendix A). Throws on anything else.
 */
#include <node_api.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdh.h>
#include <openssl/obj_mac.h>

#define POINT_BYTES 65
#define SECRET_BYTES 32

static void free_group(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  EC_GROUP_free((EC_GROUP *)data);
}

static napi_value fail(napi_env env, const char *message) {
  napi_throw_error(env, NULL, message);
  return NULL;
}

/* A Buffer argument's bytes, or NULL when the value is not a Buffer. */
static const unsigned char *bytes_of(napi_env env, napi_value value, size_t *length) {
  bool is_buffer = false;
  void *data = NULL;
  if (napi_is_buffer(env, value, &is_buffer) != napi_ok || !is_buffer) return NULL;
  if (napi_get_buffer_info(env, value, &data, length) != napi_ok) return NULL;
  return data;
}

static napi_value derive(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  EC_GROUP *group = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return fail(env, "derive(peer[, privateKey])");
  if (napi_get_instance_data(env, (void **)&group) != napi_ok || group == NULL) return fail(env, "P-256 is not available");

  size_t peer_length = 0;
  const unsigned char *peer = bytes_of(env, argv[0], &peer_length);
  /* Only the uncompressed form (RFC 8291 3.1): a one-byte 0x00 would be the point at infinity. */
  if (peer == NULL || peer_length != POINT_BYTES || peer[0] != 0x04) return fail(env, "the peer key must be an uncompressed P-256 point (65 bytes)");
  const unsigned char *fixed = NULL;
  size_t fixed_length = 0;
  if (argc >= 2) {
    napi_valuetype type;
    if (napi_typeof(env, argv[1], &type) != napi_ok) return fail(env, "bad private key");
    if (type != napi_undefined) {
      fixed = bytes_of(env, argv[1], &fixed_length);
      if (fixed == NULL || fixed_length != 32) return fail(env, "the private key must be 32 bytes");
    }
  }

  napi_value result = NULL;
  unsigned char *out = NULL;
  const char *error = NULL;
  EC_POINT *their = EC_POINT_new(group);
  EC_KEY *mine = EC_KEY_new();
  BIGNUM *scalar = NULL;
  EC_POINT *public_point = NULL;
  if (their == NULL || mine == NULL || EC_KEY_set_group(mine, group) != 1) { error = "out of memory"; goto done; }
  /* Refuses a point whose coordinates are not on the curve. */
  if (EC_POINT_oct2point(group, their, peer, peer_length, NULL) != 1) { error = "the peer key is not a point on P-256"; goto done; }
  if (fixed == NULL) {
    if (EC_KEY_generate_key(mine) != 1) { error = "key generation failed"; goto done; }
  } else {
    scalar = BN_bin2bn(fixed, (int)fixed_length, NULL);
    public_point = EC_POINT_new(group);
    if (scalar == NULL || public_point == NULL || BN_is_zero(scalar) || BN_cmp(scalar, EC_GROUP_get0_order(group)) >= 0
        || EC_KEY_set_private_key(mine, scalar) != 1 || EC_POINT_mul(group, public_point, scalar, NULL, NULL, NULL) != 1
        || EC_KEY_set_public_key(mine, public_point) != 1) { error = "bad private key"; goto done; }
  }
  if (napi_create_buffer(env, POINT_BYTES + SECRET_BYTES, (void **)&out, &result) != napi_ok) { error = "out of memory"; goto done; }
  if (EC_POINT_point2oct(group, EC_KEY_get0_public_key(mine), POINT_CONVERSION_UNCOMPRESSED, out, POINT_BYTES, NULL) != POINT_BYTES) { error = "encoding failed"; goto done; }
  /* Fails for a product at infinity: no secret then. */
  if (ECDH_compute_key(out + POINT_BYTES, SECRET_BYTES, their, mine, NULL) != SECRET_BYTES) { error = "ECDH failed"; goto done; }

done:
  BN_clear_free(scalar);
  EC_POINT_free(public_point);
  EC_KEY_free(mine); /* clears the private key */
  EC_POINT_free(their);
  if (error != NULL) return fail(env, error);
  return result;
}

NAPI_MODULE_INIT() {
  EC_GROUP *group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  if (group == NULL || napi_set_instance_data(env, group, free_group, NULL) != napi_ok) {
    EC_GROUP_free(group);
    napi_throw_error(env, NULL, "P-256 is not available");
    return NULL;
  }
  napi_value fn;
  if (napi_create_function(env, "derive", NAPI_AUTO_LENGTH, derive, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "derive", fn) != napi_ok) return NULL;
  return exports;
}
