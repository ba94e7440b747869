// Package netcore is ringo's network core, after Linux's net/core: net
// devices, the per-CPU softnet (input_pkt_queue backlog, NAPI poll list,
// net_rx_action and net_tx_action), the receive dispatch
// (__netif_receive_skb: taps, then protocol handlers by ethertype), and the
// transmit path (dev_queue_xmit, the pfifo_fast qdisc, queue stop/wake).
//
// Calling contexts, as in the kernel:
//   - "softirq": the goroutine of one Softnet. NAPI poll functions, protocol
//     handlers and net_tx_action run there, one at a time per Softnet.
//   - "hardirq": a driver's interrupt handler (package irq). It may call
//     NetifRx and NAPI.Schedule, nothing that blocks.
//   - "process": any other goroutine (sockets, control). DevQueueXmit may be
//     called from any context.
package netcore
