;; A policy written by hand in WebAssembly text from docs/abi.md alone: it asks for a canary
;; whatever the facts say. Build: wat2wasm --enable-annotations always-careful.wat
(module
  (import "preflight" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  ;; a bump allocator: the store is thrown away after one evaluation
  (func (export "preflight_alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $len)))
    (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow (i32.add (i32.div_u (local.get $len) (i32.const 65536)) (i32.const 1))))))
    (local.get $ptr))
  (data (i32.const 1024) "always careful")
  (data (i32.const 2048) "{\"decision\":\"GO_WITH_CAUTION\",\"blocking_issues\":[],\"warnings\":[{\"id\":\"demo.careful\",\"message\":\"this policy always asks for a canary\"}],\"details\":{}}")
  (func (export "preflight_evaluate") (param $ptr i32) (param $len i32) (result i64)
    (call $log (i32.const 2) (i32.const 1024) (i32.const 14))
    (i64.or (i64.shl (i64.const 2048) (i64.const 32)) (i64.const 148)))
  (@custom "preflight.policy" "{\"name\":\"always-careful\",\"version\":\"1.0.0\",\"abi\":1,\"description\":\"asks for a canary every time\"}"))
