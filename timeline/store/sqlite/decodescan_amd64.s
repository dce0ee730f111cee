//go:build !purego

#include "textflag.h"

// Byte values broadcast to 16 lanes, for plainEnd16.
DATA plainConsts<>+0x00(SB)/8, $0x2020202020202020
DATA plainConsts<>+0x08(SB)/8, $0x2020202020202020
DATA plainConsts<>+0x10(SB)/8, $0x5c5c5c5c5c5c5c5c
DATA plainConsts<>+0x18(SB)/8, $0x5c5c5c5c5c5c5c5c
DATA plainConsts<>+0x20(SB)/8, $0x2222222222222222
DATA plainConsts<>+0x28(SB)/8, $0x2222222222222222
GLOBL plainConsts<>(SB), RODATA|NOPTR, $0x30

// STOPMASK sets the lanes of X1 whose byte in X0 is not plain: signed
// 0x20 > b (a control byte, or a byte >= 0x80), b == '\\', b == '"'.
// X2 is scratch.
#define STOPMASK \
	MOVO    X8, X1   \
	PCMPGTB X0, X1   \
	MOVO    X0, X2   \
	PCMPEQB X9, X2   \
	POR     X2, X1   \
	MOVO    X0, X2   \
	PCMPEQB X10, X2  \
	POR     X2, X1

// func plainEnd16(b []byte, j int) int
TEXT ·plainEnd16(SB), NOSPLIT, $0-40
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), BX
	MOVQ j+24(FP), AX
	MOVOU plainConsts<>+0x00(SB), X8
	MOVOU plainConsts<>+0x10(SB), X9
	MOVOU plainConsts<>+0x20(SB), X10
	LEAQ -16(BX), DX
loop:
	CMPQ AX, DX
	JGT  tail
	MOVOU (SI)(AX*1), X0
	STOPMASK
	PMOVMSKB X1, CX
	TESTL CX, CX
	JNZ  found
	ADDQ $16, AX
	JMP  loop

tail:
	// b[AX:] is shorter than 16 bytes: check the last 16 bytes of b,
	// whose first ones were found plain already.
	CMPQ AX, BX
	JEQ  none
	MOVOU (SI)(DX*1), X0
	STOPMASK
	PMOVMSKB X1, CX
	TESTL CX, CX
	JZ   none
	MOVQ DX, AX

found:
	BSFL CX, CX
	ADDQ CX, AX
	MOVQ AX, ret+32(FP)
	RET

none:
	MOVQ BX, ret+32(FP)
	RET
