{
  "targets": [
    {
      "target_name": "webpush_ecdh",
      "sources": ["ecdh.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-deprecated-declarations"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
