// SMPTE timecode from integer frames at a rational rate. 24000/1001 counts 24 frames per
// timecode second (non-drop); 30000/1001 and 60000/1001 use drop-frame numbering when asked.
export function nominalRate(fpsNum, fpsDen) {
  return Math.round(fpsNum / fpsDen);
}

export function isDropFrameRate(fpsNum, fpsDen) {
  return fpsDen === 1001 && (fpsNum === 30000 || fpsNum === 60000);
}

export function framesToTimecode(frame, fpsNum, fpsDen, dropFrame = isDropFrameRate(fpsNum, fpsDen)) {
  const rate = nominalRate(fpsNum, fpsDen);
  let f = frame;
  if (dropFrame) {
    const drop = rate === 60 ? 4 : 2;
    const perMinute = rate * 60 - drop;
    const perTenMinutes = perMinute * 10 + drop;
    const tens = Math.floor(f / perTenMinutes);
    const rest = f % perTenMinutes;
    f += drop * 9 * tens + (rest > drop ? drop * Math.floor((rest - drop) / perMinute) : 0);
  }
  const ff = f % rate;
  const totalSeconds = Math.floor(f / rate);
  const pad = (n) => String(n).padStart(2, "0");
  const sep = dropFrame ? ";" : ":";
  return `${pad(Math.floor(totalSeconds / 3600))}:${pad(Math.floor(totalSeconds / 60) % 60)}:${pad(totalSeconds % 60)}${sep}${pad(ff)}`;
}

export function timecodeToFrames(tc, fpsNum, fpsDen) {
  const match = /^(\d\d):(\d\d):(\d\d)([:;])(\d\d)$/.exec(tc || "");
  if (!match) return 0;
  const [h, m, s, sep, ff] = [+match[1], +match[2], +match[3], match[4], +match[5]];
  const rate = nominalRate(fpsNum, fpsDen);
  const totalMinutes = h * 60 + m;
  let frames = (totalMinutes * 60 + s) * rate + ff;
  if (sep === ";") {
    const drop = rate === 60 ? 4 : 2;
    frames -= drop * (totalMinutes - Math.floor(totalMinutes / 10));
  }
  return frames;
}
