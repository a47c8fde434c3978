;; A policy in WebAssembly text that reads a team's own evidence: the custom fact section
;; `change` (a change ticket and whether it was approved). Its metadata declares the section as
;; required, with a JSON Schema; the host checks both before the policy runs (a missing section
;; is `facts.missing`, a malformed one `facts.invalid`). The policy itself only has to decide:
;; the facts arrive as canonical JSON (RFC 8785: no whitespace, keys sorted), so an approved
;; change is exactly the bytes `"change":{"approved":true`.
;; Build: wat2wasm --enable-annotations change-approved.wat
(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 8192))
  (func (export "preflight_alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $len)))
    (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow (i32.add (i32.div_u (local.get $len) (i32.const 65536)) (i32.const 1))))))
    (local.get $ptr))
  ;; the needle, 25 bytes
  (data (i32.const 1024) "\"change\":{\"approved\":true")
  (data (i32.const 2048) "{\"decision\":\"GO\"}")
  (data (i32.const 3072) "{\"decision\":\"NO_GO\",\"blocking_issues\":[{\"id\":\"change.not_approved\",\"message\":\"the change ticket is not approved (rule: custom.change.approved must be true)\"}]}")
  ;; Whether the 25 needle bytes occur in input[ptr, ptr+len).
  (func $contains (param $ptr i32) (param $len i32) (result i32)
    (local $at i32) (local $i i32)
    (local.set $at (local.get $ptr))
    (block $none
      (loop $scan
        (br_if $none (i32.gt_u (i32.add (local.get $at) (i32.const 25)) (i32.add (local.get $ptr) (local.get $len))))
        (local.set $i (i32.const 0))
        (block $differ
          (loop $compare
            (br_if $differ (i32.ne (i32.load8_u (i32.add (local.get $at) (local.get $i)))
                                   (i32.load8_u (i32.add (i32.const 1024) (local.get $i)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $compare (i32.lt_u (local.get $i) (i32.const 25)))
            (return (i32.const 1))))
        (local.set $at (i32.add (local.get $at) (i32.const 1)))
        (br $scan)))
    (i32.const 0))
  (func (export "preflight_evaluate") (param $ptr i32) (param $len i32) (result i64)
    (if (result i64) (call $contains (local.get $ptr) (local.get $len))
      (then (i64.or (i64.shl (i64.const 2048) (i64.const 32)) (i64.const 17)))
      (else (i64.or (i64.shl (i64.const 3072) (i64.const 32)) (i64.const 159)))))
  (@custom "preflight.policy" "{\"name\":\"change-approved\",\"version\":\"1.0.0\",\"abi\":1,\"description\":\"blocks a release whose change ticket is not approved\",\"min_host_version\":\"0.2.0\",\"custom\":{\"change\":{\"required\":true,\"schema\":{\"type\":\"object\",\"required\":[\"ticket\",\"approved\"],\"properties\":{\"ticket\":{\"type\":\"string\",\"pattern\":\"^CHG-[0-9]+$\"},\"approved\":{\"type\":\"boolean\"},\"approver\":{\"type\":\"string\"}}}}}}"))
