/** useClock(): the local time, ticking, for what ages while nothing arrives (heartbeat ages, ETAs). */
import { useEffect, useState } from 'react';

/** The time now (epoch ms), updated every `intervalMs`; `clock` replaces Date.now in tests. */
export function useClock(intervalMs = 1000, clock: () => number = Date.now): number {
  const [now, setNow] = useState(clock);
  useEffect(() => {
    const timer = setInterval(() => setNow(clock()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs, clock]);
  return now;
}
