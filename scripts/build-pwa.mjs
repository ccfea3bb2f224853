console.log("pwa build placeholder")
