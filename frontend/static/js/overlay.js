// The region a fix was asked for, laid over the picture: the drawn mask's shapes (vector, from the
// request's snapshot of the drawing) on the frames the request covers and, when the request has a
// tracked matte, that frame's matte image. `matteUrl` holds "{frame}", replaced by the frame
// number on screen.
import { shapeNode } from "./draw.js";

const SVG = "http://www.w3.org/2000/svg";
const FILL = "#f2b54466";
const EDGE = "#f2b544";

export class MaskOverlay {
  // mask: {shape, points, width} or null; frames: [first, last] frame numbers the mask applies to.
  constructor(player, { mask = null, frames = null, matteUrl = "" } = {}) {
    this.player = player;
    this.mask = mask;
    this.frames = frames;
    this.matteUrl = matteUrl;
    this.visible = true;
    this.svg = document.createElementNS(SVG, "svg");
    this.svg.setAttribute("class", "mask-overlay");
    this.svg.setAttribute("preserveAspectRatio", "none");
    this.svg.setAttribute("role", "img");
    this.svg.setAttribute("aria-label", "The region the fix was asked for");
    this.matte = document.createElement("img");
    this.matte.className = "mask-matte";
    this.matte.alt = "";
    this.matte.hidden = true;
    player.surface.append(this.matte, this.svg);
    player.addEventListener("framechange", () => this.render());
    player.addEventListener("fit", () => this.render());
    player.addEventListener("playerready", () => this.render());
    this.render();
  }

  get available() { return !!(this.mask || this.matteUrl); }

  setVisible(visible) {
    this.visible = visible;
    this.render();
  }

  appliesAt(number) {
    return !this.frames || (number >= this.frames[0] && number <= this.frames[1]);
  }

  render() {
    const v = this.player.video;
    const aspect = (v.videoWidth || 16) / (v.videoHeight || 9);
    const number = this.player.firstFrame + this.player.frame;
    const shown = this.visible && this.appliesAt(number);
    this.svg.setAttribute("viewBox", `0 0 ${aspect} 1`);
    this.svg.replaceChildren();
    this.svg.dataset.shown = String(shown && !!this.mask);
    if (shown && this.mask) {
      const node = shapeNode({ ...this.mask, color: EDGE }, aspect);
      node.setAttribute("fill", FILL);
      this.svg.append(node);
    }
    this.matte.hidden = !(shown && this.matteUrl);
    if (!this.matte.hidden) {
      const src = this.matteUrl.replace("{frame}", String(number));
      if (this.matte.getAttribute("src") !== src) this.matte.src = src;
    }
  }
}
