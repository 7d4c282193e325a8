// Placeholder: the console's pages replace this file.
"use strict";
document.getElementById("app").textContent = "stated console";
