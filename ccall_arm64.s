//go:build darwin || freebsd || linux || netbsd

#include "textflag.h"

// ccallTrampoline is called by runtime.cgocall on the system stack as a C
// function of the AArch64 procedure call standard, with R0 pointing to a
// cframe: fn at 0, ten argument words from 8, the result at 88. The first
// eight arguments go in R0-R7, the other two on the stack in 8-byte slots
// at the stack pointer (also on Apple platforms, for 8-byte arguments).
// Its 32 bytes of stack hold those two, then the link register and R19
// (callee-saved, holding the frame): SP stays 16-byte aligned.
TEXT ccallTrampoline<>(SB), NOSPLIT|NOFRAME, $0
	SUB	$32, RSP
	MOVD	R30, 16(RSP)
	MOVD	R19, 24(RSP)
	MOVD	R0, R19
	MOVD	72(R19), R8
	MOVD	R8, 0(RSP)
	MOVD	80(R19), R8
	MOVD	R8, 8(RSP)
	MOVD	8(R19), R0
	MOVD	16(R19), R1
	MOVD	24(R19), R2
	MOVD	32(R19), R3
	MOVD	40(R19), R4
	MOVD	48(R19), R5
	MOVD	56(R19), R6
	MOVD	64(R19), R7
	MOVD	0(R19), R9
	BL	(R9)
	MOVD	R0, 88(R19)
	MOVD	24(RSP), R19
	MOVD	16(RSP), R30
	ADD	$32, RSP
	RET

GLOBL ·ccallTrampolineABI0(SB), NOPTR|RODATA, $8
DATA ·ccallTrampolineABI0(SB)/8, $ccallTrampoline<>(SB)
