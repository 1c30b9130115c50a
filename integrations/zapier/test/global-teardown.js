'use strict';
module.exports = async () => {
  await require('./bridge-dev').stop();
};
