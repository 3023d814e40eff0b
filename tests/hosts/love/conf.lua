-- No window, no audio: the test runs LÖVE without a display.
function love.conf(t)
  t.window = false
  for _, m in ipairs{'audio', 'graphics', 'image', 'joystick', 'keyboard', 'mouse', 'physics', 'sound', 'touch',
    'video', 'window'} do
    t.modules[m] = false
  end
end
