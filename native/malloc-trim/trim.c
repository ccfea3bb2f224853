/*
 * Gives the C heap's free pages back to the system (glibc's malloc_trim), off the main thread.
 *
 * Why: glibc returns memory to the system by itself only from the top of a heap. Free chunks in
 * the middle (a burst of requests' buffers, sockets, OpenSSL objects, freed while others stay
 * alive) stay resident until malloc_trim(0), which madvises every free page of every arena away.
 * An IdP that served a burst and now holds its waiting sign-ins kept 6-9 MiB that way (bench/
 * memory.ts); Node itself never calls it.
 *
 *   trim() -> Promise<boolean>: true when memory was released. It runs on libuv's thread pool:
 *   walking the arenas took up to 5 ms on the main thread, which a waiting page's wake-up would
 *   feel. Where the C library is not glibc, it does nothing and resolves false.
 */
#include <node_api.h>
#include <stdlib.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  int released;
} Trim;

static void run(napi_env env, void *data) {
  (void)env;
  Trim *t = data;
#if defined(__GLIBC__)
  t->released = malloc_trim(0);
#else
  t->released = 0;
#endif
}

static void done(napi_env env, napi_status status, void *data) {
  Trim *t = data;
  napi_value result;
  napi_get_boolean(env, status == napi_ok && t->released != 0, &result);
  napi_resolve_deferred(env, t->deferred, result);
  napi_delete_async_work(env, t->work);
  free(t);
}

static napi_value trim(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value promise, name;
  Trim *t = calloc(1, sizeof *t);
  if (t == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  if (napi_create_promise(env, &t->deferred, &promise) != napi_ok
      || napi_create_string_utf8(env, "malloc_trim", NAPI_AUTO_LENGTH, &name) != napi_ok
      || napi_create_async_work(env, NULL, name, run, done, t, &t->work) != napi_ok) {
    free(t);
    napi_throw_error(env, NULL, "could not queue malloc_trim");
    return NULL;
  }
  if (napi_queue_async_work(env, t->work) != napi_ok) {
    napi_delete_async_work(env, t->work);
    free(t);
    napi_throw_error(env, NULL, "could not queue malloc_trim");
    return NULL;
  }
  return promise;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "trim", NAPI_AUTO_LENGTH, trim, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "trim", fn) != napi_ok) return NULL;
  return exports;
}
