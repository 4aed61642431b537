bodies = {"{\"texts\": [\"Return the value of the least significant bit of the float x.\"]}"}
counter = 0
function setup(t) t:set('id', counter); counter = counter + 1 end
function init(a) i = id * 37 end
request = function() i = i + 1
  return wrk.format('POST', '/predict', {['Content-Type'] = 'application/json'}, bodies[(i % #bodies) + 1]) end
