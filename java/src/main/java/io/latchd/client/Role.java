package io.latchd.client;

/** The role an agent reports (protocol.md): only {@link #ACTIVE} is a claim to accept writes. */
public enum Role {
  PASSIVE,
  BECOMING_ACTIVE,
  ACTIVE,
  BECOMING_PASSIVE;

  /** True for BECOMING_ACTIVE and ACTIVE: the agent holds (or is taking) the leadership. */
  public boolean isClaim() {
    return this == BECOMING_ACTIVE || this == ACTIVE;
  }

  /** The role named by {@code name} exactly as the agent writes it, or null. */
  static Role parse(String name) {
    for (Role r : values()) {
      if (r.name().equals(name)) {
        return r;
      }
    }
    return null;
  }
}
