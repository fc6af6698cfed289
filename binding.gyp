{
  "targets": [
    {
      "target_name": "failoverd_native",
      "sources": ["native/dgram_socket.c"],
      "cflags": ["-Wall", "-Wextra", "-O2", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
