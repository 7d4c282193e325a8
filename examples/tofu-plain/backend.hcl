# Backend settings for `tofu init -backend-config=backend.hcl`. No credentials here: they come
# from TF_HTTP_USERNAME and TF_HTTP_PASSWORD.
address        = "http://127.0.0.1:8080/v1/states/demo/dev"
lock_address   = "http://127.0.0.1:8080/v1/states/demo/dev"
lock_method    = "LOCK"
unlock_address = "http://127.0.0.1:8080/v1/states/demo/dev"
unlock_method  = "UNLOCK"
