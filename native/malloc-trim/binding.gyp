{
  "targets": [
    {
      "target_name": "malloc_trim",
      "sources": ["trim.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
