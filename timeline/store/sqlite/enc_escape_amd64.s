//go:build !purego

#include "textflag.h"

// Byte values broadcast to 16 lanes, for firstEscape.
DATA escConsts<>+0x00(SB)/8, $0x2020202020202020
DATA escConsts<>+0x08(SB)/8, $0x2020202020202020
DATA escConsts<>+0x10(SB)/8, $0x5c5c5c5c5c5c5c5c
DATA escConsts<>+0x18(SB)/8, $0x5c5c5c5c5c5c5c5c
DATA escConsts<>+0x20(SB)/8, $0x0404040404040404
DATA escConsts<>+0x28(SB)/8, $0x0404040404040404
DATA escConsts<>+0x30(SB)/8, $0x2626262626262626
DATA escConsts<>+0x38(SB)/8, $0x2626262626262626
DATA escConsts<>+0x40(SB)/8, $0x0202020202020202
DATA escConsts<>+0x48(SB)/8, $0x0202020202020202
DATA escConsts<>+0x50(SB)/8, $0x3e3e3e3e3e3e3e3e
DATA escConsts<>+0x58(SB)/8, $0x3e3e3e3e3e3e3e3e
GLOBL escConsts<>(SB), RODATA|NOPTR, $0x60

// ESCMASK sets the lanes of X1 whose byte in X0 needs an escape:
// signed 0x20 > b (a control, or a byte >= 0x80), b == '\\',
// b|0x04 == '&' (" or &), b|0x02 == '>' (< or >). X2 is scratch.
#define ESCMASK \
	MOVO    X8, X1   \
	PCMPGTB X0, X1   \
	MOVO    X0, X2   \
	PCMPEQB X9, X2   \
	POR     X2, X1   \
	MOVO    X0, X2   \
	POR     X10, X2  \
	PCMPEQB X11, X2  \
	POR     X2, X1   \
	MOVO    X0, X2   \
	POR     X12, X2  \
	PCMPEQB X13, X2  \
	POR     X2, X1

// func firstEscape(s string) int
TEXT ·firstEscape(SB), NOSPLIT, $0-24
	MOVQ s_base+0(FP), SI
	MOVQ s_len+8(FP), BX
	MOVOU escConsts<>+0x00(SB), X8
	MOVOU escConsts<>+0x10(SB), X9
	MOVOU escConsts<>+0x20(SB), X10
	MOVOU escConsts<>+0x30(SB), X11
	MOVOU escConsts<>+0x40(SB), X12
	MOVOU escConsts<>+0x50(SB), X13
	XORQ AX, AX
	LEAQ -16(BX), DX
loop:
	CMPQ AX, DX
	JGT  tail
	MOVOU (SI)(AX*1), X0
	ESCMASK
	PMOVMSKB X1, CX
	TESTL CX, CX
	JNZ  found
	ADDQ $16, AX
	JMP  loop

tail:
	// s[AX:] is shorter than 16 bytes: check the last 16 bytes of s,
	// whose first ones were found plain already.
	CMPQ AX, BX
	JEQ  none
	MOVOU (SI)(DX*1), X0
	ESCMASK
	PMOVMSKB X1, CX
	TESTL CX, CX
	JZ   none
	MOVQ DX, AX

found:
	BSFL CX, CX
	ADDQ CX, AX
	MOVQ AX, ret+16(FP)
	RET

none:
	MOVQ BX, ret+16(FP)
	RET
