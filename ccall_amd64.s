//go:build darwin || freebsd || linux || netbsd

#include "textflag.h"

// ccallTrampoline is called by runtime.cgocall on the system stack as a C
// function of the System V AMD64 ABI, with DI pointing to a cframe:
// fn at 0, ten argument words from 8, the result at 88. The first six
// arguments go in DI, SI, DX, CX, R8 and R9, the other four on the
// stack. On entry SP is 8 past a 16-byte boundary (the return address);
// the two pushes and 40 bytes put it back on one for the call.
TEXT ccallTrampoline<>(SB), NOSPLIT|NOFRAME, $0
	PUSHQ	BP
	MOVQ	SP, BP
	PUSHQ	BX
	SUBQ	$40, SP
	MOVQ	DI, BX
	MOVQ	56(BX), AX
	MOVQ	AX, 0(SP)
	MOVQ	64(BX), AX
	MOVQ	AX, 8(SP)
	MOVQ	72(BX), AX
	MOVQ	AX, 16(SP)
	MOVQ	80(BX), AX
	MOVQ	AX, 24(SP)
	MOVQ	8(BX), DI
	MOVQ	16(BX), SI
	MOVQ	24(BX), DX
	MOVQ	32(BX), CX
	MOVQ	40(BX), R8
	MOVQ	48(BX), R9
	MOVQ	0(BX), R10
	XORL	AX, AX // no vector registers, should fn be variadic
	CALL	R10
	MOVQ	AX, 88(BX)
	ADDQ	$40, SP
	POPQ	BX
	POPQ	BP
	RET

GLOBL ·ccallTrampolineABI0(SB), NOPTR|RODATA, $8
DATA ·ccallTrampolineABI0(SB)/8, $ccallTrampoline<>(SB)
