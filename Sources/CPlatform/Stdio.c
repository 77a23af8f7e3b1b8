#include "CPlatform.h"
#include <stdio.h>

void csys_line_buffer_stdout(void) { setvbuf(stdout, NULL, _IOLBF, 0); }
