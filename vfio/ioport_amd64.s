#include "textflag.h"

// func inb(port uint16) uint8
TEXT ·inb(SB), NOSPLIT, $0-9
	MOVW port+0(FP), DX
	INB
	MOVB AX, ret+8(FP)
	RET

// func outb(port uint16, v uint8)
TEXT ·outb(SB), NOSPLIT, $0-3
	MOVW port+0(FP), DX
	MOVB v+2(FP), AX
	OUTB
	RET

// func insw(port uint16, buf *byte, count int)
TEXT ·insw(SB), NOSPLIT, $0-24
	MOVW port+0(FP), DX
	MOVQ buf+8(FP), DI
	MOVQ count+16(FP), CX
	CLD
	REP; INSW
	RET

// func insl(port uint16, buf *byte, count int)
TEXT ·insl(SB), NOSPLIT, $0-24
	MOVW port+0(FP), DX
	MOVQ buf+8(FP), DI
	MOVQ count+16(FP), CX
	CLD
	REP; INSL
	RET

// func outsw(port uint16, buf *byte, count int)
TEXT ·outsw(SB), NOSPLIT, $0-24
	MOVW port+0(FP), DX
	MOVQ buf+8(FP), SI
	MOVQ count+16(FP), CX
	CLD
	REP; OUTSW
	RET

// func outsl(port uint16, buf *byte, count int)
TEXT ·outsl(SB), NOSPLIT, $0-24
	MOVW port+0(FP), DX
	MOVQ buf+8(FP), SI
	MOVQ count+16(FP), CX
	CLD
	REP; OUTSL
	RET
