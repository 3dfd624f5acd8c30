package io.latchd.client;

import java.io.IOException;

/**
 * A request to the agent failed: the socket could not be reached, no answer came within the
 * deadline, the agent refused the request ({@code {"error":...}}) or its answer was not a valid
 * status line. The message is one line and names the socket path and what was wrong.
 */
public class LatchdException extends IOException {
  private static final long serialVersionUID = 1L;

  public LatchdException(String message) {
    super(message);
  }

  public LatchdException(String message, Throwable cause) {
    super(message, cause);
  }
}
