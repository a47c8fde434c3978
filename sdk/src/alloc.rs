//! The guest's memory allocator: a bump allocator.
//!
//! The host runs every evaluation in a fresh instance and throws it away afterwards, so memory
//! never needs to be handed back to a general-purpose allocator. Allocation is a pointer bump
//! from `__heap_base`; freeing or growing the most recent block works in place (what `Vec` and
//! `String` growth and short-lived temporaries mostly do); anything else is left in place until
//! the instance is dropped. Memory grows with `memory.grow`, so the host's memory cap still
//! applies. Policies that need a general allocator build the SDK with the `system-allocator`
//! feature.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;

const PAGE: usize = 65_536;

/// The next free byte and the end of the memory.
struct Heap {
    next: usize,
    end: usize,
}

/// The bump allocator the SDK installs as the global allocator on `wasm32`.
#[derive(Debug)]
pub struct BumpAllocator {
    heap: UnsafeCell<Option<Heap>>,
}

impl std::fmt::Debug for Heap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Heap({:#x}..{:#x})", self.next, self.end)
    }
}

// SAFETY: a wasm32 policy module is single-threaded; the host never shares an instance between
// threads.
unsafe impl Sync for BumpAllocator {}

impl BumpAllocator {
    /// An allocator that starts at the module's heap base on first use.
    #[must_use]
    pub const fn new() -> Self {
        BumpAllocator {
            heap: UnsafeCell::new(None),
        }
    }

    /// The heap, initialised on first use.
    ///
    /// # Safety
    /// Single-threaded use only; no other reference to the heap may be live.
    #[allow(
        clippy::mut_from_ref,
        reason = "the allocator is single-threaded by construction"
    )]
    unsafe fn heap(&self) -> &mut Heap {
        // SAFETY: the caller guarantees exclusive, single-threaded access.
        let slot = unsafe { &mut *self.heap.get() };
        slot.get_or_insert_with(|| Heap {
            next: platform::heap_base(),
            end: platform::memory_end(),
        })
    }
}

impl Default for BumpAllocator {
    fn default() -> Self {
        Self::new()
    }
}

impl Heap {
    /// Makes sure `[.., upto)` is inside the memory, growing it when needed.
    fn reserve(&mut self, upto: usize) -> bool {
        if upto <= self.end {
            return true;
        }
        let pages = (upto - self.end).div_ceil(PAGE);
        if platform::memory_grow_pages(pages).is_none() {
            return false;
        }
        self.end += pages * PAGE;
        true
    }

    fn alloc(&mut self, layout: Layout) -> *mut u8 {
        let Some(start) = self.next.checked_next_multiple_of(layout.align()) else {
            return core::ptr::null_mut();
        };
        let Some(upto) = start.checked_add(layout.size()) else {
            return core::ptr::null_mut();
        };
        if !self.reserve(upto) {
            return core::ptr::null_mut();
        }
        self.next = upto;
        start as *mut u8
    }
}

// SAFETY: every block handed out is inside the memory, aligned as asked, and never handed out
// twice while live: `next` only moves back over the most recent block when that block is freed.
unsafe impl GlobalAlloc for BumpAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: single-threaded (see `Sync`), and no heap reference outlives this call.
        unsafe { self.heap() }.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as in `alloc`.
        let heap = unsafe { self.heap() };
        if ptr as usize + layout.size() == heap.next {
            heap.next = ptr as usize;
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as in `alloc`.
        let heap = unsafe { self.heap() };
        let start = ptr as usize;
        if start + layout.size() == heap.next {
            // The most recent block: grow or shrink it where it is.
            let Some(upto) = start.checked_add(new_size) else {
                return core::ptr::null_mut();
            };
            if !heap.reserve(upto) {
                return core::ptr::null_mut();
            }
            heap.next = upto;
            return ptr;
        }
        if new_size <= layout.size() {
            return ptr;
        }
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return core::ptr::null_mut();
        };
        let new = heap.alloc(new_layout);
        if !new.is_null() {
            // SAFETY: both blocks are live, distinct (the new one is above `next`), and at least
            // `layout.size()` bytes long.
            unsafe { core::ptr::copy_nonoverlapping(ptr, new, layout.size()) };
        }
        new
    }
}

#[cfg(target_arch = "wasm32")]
mod platform {
    unsafe extern "C" {
        /// Set by the linker: the first byte after the data segments and the stack.
        static __heap_base: u8;
    }

    pub fn heap_base() -> usize {
        // SAFETY: only the symbol's address is taken, never its value.
        unsafe { core::ptr::addr_of!(__heap_base) as usize }
    }

    pub fn memory_end() -> usize {
        core::arch::wasm32::memory_size(0) * super::PAGE
    }

    pub fn memory_grow_pages(pages: usize) -> Option<usize> {
        let previous = core::arch::wasm32::memory_grow(0, pages);
        (previous != usize::MAX).then_some(previous)
    }
}

/// Natively the allocator runs over a fixed arena, so its bookkeeping is unit-tested.
#[cfg(not(target_arch = "wasm32"))]
mod platform {
    use std::cell::Cell;

    thread_local! {
        static ARENA: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    }

    /// Uses `[base, base + pages * 64 KiB)` as the memory; `grow` may take it up to 4 pages.
    #[cfg(test)]
    pub fn set_arena(base: usize, pages: usize) {
        ARENA.with(|arena| arena.set((base, pages)));
    }

    pub fn heap_base() -> usize {
        ARENA.with(|arena| arena.get().0)
    }

    pub fn memory_end() -> usize {
        ARENA.with(|arena| {
            let (base, pages) = arena.get();
            base + pages * super::PAGE
        })
    }

    #[cfg(test)]
    pub fn memory_size_pages() -> usize {
        ARENA.with(|arena| arena.get().1)
    }

    pub fn memory_grow_pages(pages: usize) -> Option<usize> {
        ARENA.with(|arena| {
            let (base, current) = arena.get();
            (current + pages <= 4).then(|| {
                arena.set((base, current + pages));
                current
            })
        })
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[repr(align(65536))]
    struct Arena([u8; 4 * PAGE]);

    #[test]
    fn bumps_reuses_the_last_block_and_grows_up_to_the_limit() {
        let mut arena = Box::new(Arena([0; 4 * PAGE]));
        let base = arena.0.as_mut_ptr() as usize;
        platform::set_arena(base, 1);
        let allocator = BumpAllocator::new();
        let layout =
            |size, align| Layout::from_size_align(size, align).unwrap_or(Layout::new::<u8>());
        unsafe {
            let a = allocator.alloc(layout(10, 1));
            assert_eq!(a as usize, base);
            let b = allocator.alloc(layout(8, 8));
            assert_eq!(b as usize, base + 16, "aligned up");
            // Freeing the last block gives its space back; freeing another does nothing.
            allocator.dealloc(b, layout(8, 8));
            let c = allocator.alloc(layout(4, 4));
            assert_eq!(
                c as usize,
                base + 16,
                "b's space, not the padding before it"
            );
            // Growing the last block stays in place and grows the memory past one page.
            let grown = allocator.realloc(c, layout(4, 4), 2 * PAGE);
            assert_eq!(grown, c);
            assert_eq!(platform::memory_size_pages(), 3);
            // Growing an older block moves it and keeps its bytes.
            *a = 7;
            let moved = allocator.realloc(a, layout(10, 1), 20);
            assert_ne!(moved, a);
            assert_eq!(*moved, 7);
            // Past the limit: null, not a panic.
            assert!(allocator.alloc(layout(8 * PAGE, 1)).is_null());
        }
    }
}
