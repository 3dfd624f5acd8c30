/**
 * The Java client of latchd, the ZooKeeper leader-latch sidecar: {@link
 * io.latchd.client.LatchdClient} (status, the lease-aware {@link
 * io.latchd.client.LatchdClient#isActive()}, watch with reconnect, ordered {@link
 * io.latchd.client.RoleListener} callbacks with the activation ack, hold) and {@link
 * io.latchd.client.LatchdStatus}. See docs/java.md.
 */
package io.latchd.client;
