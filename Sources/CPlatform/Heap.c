#include <malloc.h>
#include "CPlatform.h"

size_t csys_heap_bytes(void) {
    struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
}
