#pragma once
// Bytes currently allocated on the heap, for tests that check a block is freed: under ASan or
// TSan through __sanitizer_get_current_allocated_bytes() (their allocator replaces malloc and
// mallinfo2() does not see it), otherwise through glibc's mallinfo2(); -1 when neither exists.

#include <cstddef>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define BACKPLANE_TEST_SANITIZER_ALLOCATOR 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BACKPLANE_TEST_SANITIZER_ALLOCATOR 1
#endif

#if defined(BACKPLANE_TEST_SANITIZER_ALLOCATOR)
// GCC does not install <sanitizer/allocator_interface.h>; the sanitizer runtimes export it anyway.
extern "C" size_t __sanitizer_get_current_allocated_bytes(void);
#elif defined(__GLIBC__)
#include <malloc.h>
#endif

inline long long heap_in_use() {
#if defined(BACKPLANE_TEST_SANITIZER_ALLOCATOR)
    return static_cast<long long>(__sanitizer_get_current_allocated_bytes());
#elif defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    const struct mallinfo2 info = mallinfo2();
    return static_cast<long long>(info.uordblks + info.hblkhd);
#else
    return -1;
#endif
}
