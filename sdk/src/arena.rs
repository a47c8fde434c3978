//! A bump arena in front of the system allocator, for a policy module's global allocator.
//!
//! A policy runs once per instance: the host makes a fresh sandbox for each evaluation and
//! discards it after, so memory never needs to be handed back. The arena lives in the module's
//! zero-initialised data, inside its initial memory: the first allocations are a pointer bump
//! and never grow the memory through the host, which the system allocator does on its first
//! allocation (`memory.grow` is a call into the host). What does not fit goes to the system
//! allocator; the last allocation is grown and freed in place, the rest is freed with the
//! instance, so at most `N` bytes are never reused.
//!
//! ```ignore
//! #[cfg(target_arch = "wasm32")]
//! #[global_allocator]
//! static ALLOCATOR: preflight_sdk::arena::Arena<{ 64 << 10 }> = preflight_sdk::arena::Arena::new();
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, UnsafeCell};

#[repr(C, align(16))]
struct Bytes<const N: usize>([u8; N]);

/// `N` bytes handed out in order, then the system allocator.
#[allow(
    missing_debug_implementations,
    reason = "a global allocator: nothing to show"
)]
pub struct Arena<const N: usize> {
    bytes: UnsafeCell<Bytes<N>>,
    /// Offset of the first free byte.
    next: Cell<usize>,
    /// One past the offset of the last allocation (0: none to grow in place). Zero, not
    /// `usize::MAX`, so the whole arena is zeros and takes no room in the module.
    last: Cell<usize>,
}

// SAFETY: `wasm32-unknown-unknown` without the atomics feature has one thread. Elsewhere an
// arena is not `Sync` (the unit tests use one on one thread).
#[cfg(target_arch = "wasm32")]
unsafe impl<const N: usize> Sync for Arena<N> {}

impl<const N: usize> Arena<N> {
    /// An empty arena (all zeros: it takes no bytes in the module's data segments).
    #[must_use]
    pub const fn new() -> Self {
        Arena {
            bytes: UnsafeCell::new(Bytes([0; N])),
            next: Cell::new(0),
            last: Cell::new(0),
        }
    }

    fn base(&self) -> usize {
        self.bytes.get() as usize
    }

    /// The offset of `ptr` in the arena, if it is in it.
    fn offset(&self, ptr: *mut u8) -> Option<usize> {
        let offset = (ptr as usize).wrapping_sub(self.base());
        (offset < N).then_some(offset)
    }

    /// Room for `layout` at the end, if there is some.
    fn bump(&self, layout: Layout) -> Option<*mut u8> {
        let base = self.base();
        let start = (base + self.next.get()).checked_next_multiple_of(layout.align())? - base;
        let end = start.checked_add(layout.size())?;
        if end > N {
            return None;
        }
        self.last.set(start + 1);
        self.next.set(end);
        Some((base + start) as *mut u8)
    }
}

impl<const N: usize> Default for Arena<N> {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: every block handed out is `layout.size()` bytes at `layout.align()`, inside the
// arena and disjoint from every other live block, or the system allocator's; a block goes back
// to whichever allocator it came from.
unsafe impl<const N: usize> GlobalAlloc for Arena<N> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.bump(layout) {
            Some(ptr) => ptr,
            // SAFETY: the caller's layout, passed on.
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match self.offset(ptr) {
            Some(offset) => {
                if offset + 1 == self.last.get() {
                    self.next.set(offset);
                    self.last.set(0);
                }
            }
            // SAFETY: not the arena's, so the system allocator's, with this layout.
            None => unsafe { System.dealloc(ptr, layout) },
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Some(offset) = self.offset(ptr) else {
            // SAFETY: the system allocator's block, passed on.
            return unsafe { System.realloc(ptr, layout, new_size) };
        };
        if offset + 1 == self.last.get() && offset.checked_add(new_size).is_some_and(|end| end <= N)
        {
            self.next.set(offset + new_size);
            return ptr;
        }
        if new_size <= layout.size() {
            return ptr;
        }
        // SAFETY: `new_size` is non-zero (it is above the old size) and, as `realloc`'s
        // contract says, does not overflow `isize` when rounded to the alignment.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: a valid, non-zero layout.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are at least `layout.size()` bytes and do not overlap (the
            // old one is live until the dealloc below).
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size());
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn blocks_are_aligned_disjoint_and_then_from_the_system() {
        let arena: Arena<256> = Arena::new();
        let mut blocks = Vec::new();
        for (size, align) in [(3, 1), (8, 8), (5, 4), (16, 16), (1, 2)] {
            // SAFETY: non-zero layouts; each block is freed below with its layout.
            let ptr = unsafe { arena.alloc(layout(size, align)) };
            assert_eq!(ptr as usize % align, 0);
            assert!(arena.offset(ptr).is_some(), "in the arena");
            // SAFETY: `size` bytes were handed out at `ptr`.
            unsafe { std::ptr::write_bytes(ptr, 0xA5, size) };
            blocks.push((ptr as usize, size, align));
        }
        let mut sorted = blocks.clone();
        sorted.sort_unstable();
        for pair in sorted.windows(2) {
            assert!(pair[0].0 + pair[0].1 <= pair[1].0, "disjoint: {pair:?}");
        }
        // More than is left: the system allocator's, outside the arena.
        // SAFETY: a non-zero layout, freed below.
        let big = unsafe { arena.alloc(layout(1024, 8)) };
        assert!(!big.is_null());
        assert!(arena.offset(big).is_none());
        // SAFETY: each block with the layout it was allocated with.
        unsafe {
            arena.dealloc(big, layout(1024, 8));
            for (ptr, size, align) in blocks {
                arena.dealloc(ptr as *mut u8, layout(size, align));
            }
        }
    }

    #[test]
    fn the_last_block_grows_and_is_freed_in_place_others_are_copied() {
        let arena: Arena<128> = Arena::new();
        // SAFETY: non-zero layouts and their own blocks throughout.
        unsafe {
            let first = arena.alloc(layout(8, 8));
            first.copy_from_nonoverlapping(b"abcdefgh".as_ptr(), 8);
            let grown = arena.realloc(first, layout(8, 8), 24);
            assert_eq!(grown, first, "the last block grows in place");
            let second = arena.alloc(layout(8, 8));
            assert_eq!(second as usize, first as usize + 24);
            // No longer the last: grown by a copy, its bytes kept.
            let moved = arena.realloc(first, layout(24, 8), 40);
            assert_ne!(moved, first);
            assert_eq!(std::slice::from_raw_parts(moved, 8), b"abcdefgh");
            // Freeing the last block gives its room to the next allocation.
            arena.dealloc(moved, layout(40, 8));
            let again = arena.alloc(layout(40, 8));
            assert_eq!(again, moved);
            // Past the end: copied out to the system allocator.
            let out = arena.realloc(again, layout(40, 8), 4096);
            assert!(arena.offset(out).is_none());
            assert_eq!(std::slice::from_raw_parts(out, 8), b"abcdefgh");
            arena.dealloc(out, layout(4096, 8));
            arena.dealloc(second, layout(8, 8));
        }
    }
}
