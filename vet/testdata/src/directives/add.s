// want `^asm: domains may not contain assembly \(add.s\)`
#include "textflag.h"

TEXT ·add(SB),NOSPLIT,$0-24
	RET
