// The IDE's display settings, kept in the browser (localStorage).
import { create } from 'zustand';
import { SMOOTH_MODES, type SmoothMode } from '../run/smooth';

const SMOOTHING_KEY = 'tide.smoothing';

function storedSmoothing(): SmoothMode {
  try {
    const value = localStorage.getItem(SMOOTHING_KEY);
    return SMOOTH_MODES.find((m) => m === value) ?? 'off';
  } catch {
    return 'off';
  }
}

export const useSettings = create<{ smoothing: SmoothMode; setSmoothing: (mode: SmoothMode) => void }>()((set) => ({
  smoothing: storedSmoothing(),
  setSmoothing: (smoothing) => {
    try {
      localStorage.setItem(SMOOTHING_KEY, smoothing);
    } catch {
      /* private mode: the choice lasts for this page only */
    }
    set({ smoothing });
  },
}));
