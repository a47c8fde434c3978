/*
 * preflight.h: write a preflight policy in C (policy ABI v1, docs/abi.md).
 *
 * One header, no libc. Build with clang for wasm32-unknown-unknown:
 *
 *   clang-19 --target=wasm32-unknown-unknown -O2 -nostdlib -I sdk/c \
 *       -Wl,--no-entry -Wl,-z,stack-size=65536 -o policy.wasm policy.c
 *
 * A policy then
 *   - names itself once, at file scope:
 *       PREFLIGHT_POLICY("{\"name\":\"min-readiness\",\"version\":\"1.0.0\",\"abi\":1}");
 *   - defines the evaluation:
 *       PREFLIGHT_EXPORT(preflight_evaluate)
 *       uint64_t preflight_evaluate(const char *input, uint32_t len) { ... }
 *     returning preflight_result(out, out_len) for its output JSON.
 *
 * The header gives the export `preflight_alloc` (a bump allocator from `__heap_base`: the host
 * throws the instance away after one evaluation, so nothing is ever freed), the import
 * `preflight.log`, `memcpy`/`memset`/`memmove`/`memcmp` (clang emits calls to them), and a
 * small JSON reader and writer for the input and the output.
 */
#ifndef PREFLIGHT_H
#define PREFLIGHT_H

#include <stddef.h>
#include <stdint.h>

#if !defined(__wasm32__)
#error "preflight.h targets wasm32: build with --target=wasm32-unknown-unknown"
#endif

#define PREFLIGHT_ABI_VERSION 1

/* --- Metadata ------------------------------------------------------------------------------ */

/*
 * The `preflight.policy` custom section, from a string literal holding the metadata JSON
 * (without a trailing NUL). It must be a custom section: `__attribute__((section(...)))` on a
 * variable makes a data segment with that name instead, which the host does not read.
 */
#define PREFLIGHT_POLICY(json)                                                                     \
    __asm__(".section .custom_section.preflight.policy,\"\",@\n\t.ascii " #json "\n\t.text\n")

/* Exports a function under its own name. */
#define PREFLIGHT_EXPORT(name) __attribute__((export_name(#name)))

/* --- The log import ------------------------------------------------------------------------ */

enum preflight_level {
    PREFLIGHT_ERROR = 0,
    PREFLIGHT_WARN = 1,
    PREFLIGHT_INFO = 2,
    PREFLIGHT_DEBUG = 3,
};

/* `preflight.log(level, ptr, len)`: a UTF-8 line for `preflight test -v` / `run --verbose`. */
__attribute__((import_module("preflight"), import_name("log"))) void
preflight_log_raw(int32_t level, const char *ptr, uint32_t len);

static inline size_t preflight_strlen(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

static inline void preflight_log(enum preflight_level level, const char *message) {
    preflight_log_raw((int32_t)level, message, (uint32_t)preflight_strlen(message));
}

/* --- Memory -------------------------------------------------------------------------------- */

extern unsigned char __heap_base;

static uintptr_t preflight_heap_top;

/* `len` writable bytes, 8-aligned; 0 when memory cannot grow (the host then fails closed). */
static inline void *preflight_malloc(size_t len) {
    if (preflight_heap_top == 0) preflight_heap_top = (uintptr_t)&__heap_base;
    uintptr_t ptr = (preflight_heap_top + 7u) & ~(uintptr_t)7u;
    if (len > UINT32_MAX - ptr) return 0;
    uintptr_t end = ptr + len;
    uintptr_t have = (uintptr_t)__builtin_wasm_memory_size(0) * 65536u;
    if (end > have) {
        uintptr_t pages = (end - have + 65535u) / 65536u;
        if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1) return 0;
    }
    preflight_heap_top = end;
    return (void *)ptr;
}

PREFLIGHT_EXPORT(preflight_alloc)
__attribute__((weak)) int32_t preflight_alloc(int32_t len) {
    return (int32_t)(uintptr_t)preflight_malloc(len < 0 ? 0 : (size_t)len);
}

__attribute__((weak)) void *memcpy(void *dst, const void *src, size_t n) {
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--) *d++ = *s++;
    return dst;
}

__attribute__((weak)) void *memmove(void *dst, const void *src, size_t n) {
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d < s) {
        while (n--) *d++ = *s++;
    } else {
        while (n--) d[n] = s[n];
    }
    return dst;
}

__attribute__((weak)) void *memset(void *dst, int c, size_t n) {
    unsigned char *d = dst;
    while (n--) *d++ = (unsigned char)c;
    return dst;
}

__attribute__((weak)) int memcmp(const void *a, const void *b, size_t n) {
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y) return *x - *y;
    return 0;
}

/* The packed result of `preflight_evaluate`: (out_ptr << 32) | out_len. */
static inline uint64_t preflight_result(const char *out, uint32_t len) {
    return ((uint64_t)(uintptr_t)out << 32) | (uint64_t)len;
}

/* --- Reading the input --------------------------------------------------------------------- */

/* A span of the input JSON: one value, as text. `ptr == 0` when absent. */
typedef struct {
    const char *ptr;
    uint32_t len;
} preflight_json;

static inline uint32_t preflight__ws(const char *s, uint32_t n, uint32_t i) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    return i;
}

/* The end of the value starting at `i`, or `n + 1` when it is malformed. Depth-bounded. */
static inline uint32_t preflight__skip(const char *s, uint32_t n, uint32_t i) {
    uint32_t depth = 0;
    do {
        i = preflight__ws(s, n, i);
        if (i >= n) return n + 1;
        char c = s[i];
        if (c == '"') {
            for (i++; i < n && s[i] != '"'; i++)
                if (s[i] == '\\') i++;
            if (i >= n) return n + 1;
            i++;
        } else if (c == '{' || c == '[') {
            if (++depth > 128) return n + 1;
            i++;
            continue;
        } else if (c == '}' || c == ']') {
            if (depth == 0) return n + 1;
            depth--;
            i++;
        } else {
            while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' &&
                   s[i] != '\n' && s[i] != '\r' && s[i] != '\t' && s[i] != ':')
                i++;
        }
        i = preflight__ws(s, n, i);
        if (depth > 0 && i < n && (s[i] == ',' || s[i] == ':')) i++;
    } while (depth > 0);
    return i;
}

/* The member `key` of an object (keys without escapes), or an absent span. */
static inline preflight_json preflight_get(preflight_json object, const char *key) {
    preflight_json none = {0, 0};
    const char *s = object.ptr;
    uint32_t n = object.len, i = preflight__ws(s, n, 0), k = (uint32_t)preflight_strlen(key);
    if (!s || i >= n || s[i] != '{') return none;
    i = preflight__ws(s, n, i + 1);
    while (i < n && s[i] == '"') {
        uint32_t start = i + 1, end = start;
        while (end < n && s[end] != '"') end += s[end] == '\\' ? 2 : 1;
        if (end >= n) return none;
        uint32_t name_len = end - start;
        i = preflight__ws(s, n, end + 1);
        if (i >= n || s[i] != ':') return none;
        uint32_t value = preflight__ws(s, n, i + 1), after = preflight__skip(s, n, value);
        if (after > n) return none;
        if (name_len == k && memcmp(s + start, key, k) == 0) {
            uint32_t last = after;
            while (last > value && (s[last - 1] == ' ' || s[last - 1] == '\n' ||
                                    s[last - 1] == '\r' || s[last - 1] == '\t' ||
                                    s[last - 1] == ','))
                last--;
            preflight_json found = {s + value, last - value};
            return found;
        }
        i = preflight__ws(s, n, after);
        if (i < n && s[i] == ',') i = preflight__ws(s, n, i + 1);
    }
    return none;
}

/* Whether the span is a JSON number; its value in `*out` (decimal, with exponent). */
static inline int preflight_number(preflight_json value, double *out) {
    const char *s = value.ptr;
    uint32_t n = value.len, i = 0;
    if (!s || n == 0) return 0;
    double sign = 1, result = 0;
    if (s[i] == '-') sign = -1, i++;
    if (i >= n || s[i] < '0' || s[i] > '9') return 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') result = result * 10 + (s[i++] - '0');
    if (i < n && s[i] == '.') {
        double scale = 0.1;
        if (++i >= n || s[i] < '0' || s[i] > '9') return 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') result += (s[i++] - '0') * scale, scale /= 10;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        int esign = 1, exp = 0;
        if (++i < n && (s[i] == '+' || s[i] == '-')) esign = s[i++] == '-' ? -1 : 1;
        if (i >= n || s[i] < '0' || s[i] > '9') return 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (exp < 400) exp = exp * 10 + (s[i] - '0');
            i++;
        }
        while (exp-- > 0) result = esign > 0 ? result * 10 : result / 10;
    }
    if (i != n) return 0;
    *out = sign * result;
    return 1;
}

/* --- Writing the output -------------------------------------------------------------------- */

/* A growable output buffer on the bump heap. */
typedef struct {
    char *ptr;
    uint32_t len, cap;
    int failed;
} preflight_out;

static inline void preflight_put(preflight_out *out, const char *text, uint32_t len) {
    if (out->failed) return;
    if (out->len + len > out->cap) {
        uint32_t cap = out->cap ? out->cap : 256;
        while (cap < out->len + len) cap *= 2;
        char *grown = preflight_malloc(cap);
        if (!grown) {
            out->failed = 1;
            return;
        }
        if (out->len) memcpy(grown, out->ptr, out->len);
        out->ptr = grown;
        out->cap = cap;
    }
    memcpy(out->ptr + out->len, text, len);
    out->len += len;
}

/* Raw JSON text (a literal the policy wrote, or a span copied from the input). */
static inline void preflight_raw(preflight_out *out, const char *text) {
    preflight_put(out, text, (uint32_t)preflight_strlen(text));
}

/* A JSON string with quotes, control characters escaped. */
static inline void preflight_string(preflight_out *out, const char *text) {
    static const char hex[] = "0123456789abcdef";
    preflight_put(out, "\"", 1);
    for (; *text; text++) {
        unsigned char c = (unsigned char)*text;
        if (c == '"' || c == '\\') {
            char escaped[2] = {'\\', (char)c};
            preflight_put(out, escaped, 2);
        } else if (c < 0x20) {
            char escaped[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            preflight_put(out, escaped, 6);
        } else {
            preflight_put(out, (const char *)&c, 1);
        }
    }
    preflight_put(out, "\"", 1);
}

/* The packed result for the output written so far; a trap when memory ran out. */
static inline uint64_t preflight_finish(preflight_out *out) {
    if (out->failed) __builtin_trap();
    return preflight_result(out->ptr, out->len);
}

#endif /* PREFLIGHT_H */
